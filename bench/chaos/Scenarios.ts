/**
 * The chaos scenarios: each runs `sluice run` under live load in a world of its own, injects one
 * kind of fault (processes, broker, MySQL, group membership, upstream transactions, topic, disk),
 * and is judged by the data: nothing lost, nothing twice.
 */
import { closeSync, openSync, rmSync, writeSync } from "node:fs"
import * as path from "node:path"
import { execFileSync } from "node:child_process"
import { Admin, Consumer, Producer } from "@platformatic/kafka"
import { Effect } from "effect"
import { createConnection } from "mysql2/promise"
import { makeMessageGenerator } from "../../src/domain/Generator.ts"
import { deleteTopics, ensureTopic } from "../../src/ops/KafkaAdmin.ts"
import { runSluice } from "../../test/support/Sluice.ts"
import type { Supervised } from "../../test/support/Supervisor.ts"
import { readCommitted } from "./CommittedReader.ts"
import { countRecords, readLakeRows } from "./Counting.ts"
import { type ChaosContext, type Lab, type LabOptions, openLab, type ScenarioResult } from "./Lab.ts"
import { committedEverywhere, endOffsets, secondsUntilCommitted } from "./Progress.ts"

export interface Scenario {
  readonly name: string
  readonly description: string
  /** Part of the short form that `npm test` runs. */
  readonly short: boolean
  /** Needs a container engine (and the test images or a registry): left out of a full run without one. */
  readonly containers?: boolean
  readonly run: (ctx: ChaosContext) => Promise<ScenarioResult>
}

const RESUMED = /assigned, resuming at offset/
const SESSION_TIMEOUT_MS = 6_000

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const between = (min: number, max: number) => min + Math.floor(Math.random() * (max - min))
/** The offered load of `sluice produce --rate`, msg/s. */
export const rateOf = (ctx: Pick<ChaosContext, "quick">) => (ctx.quick ? 400 : 1_000)

/** Resolves once the supervisor has started a process after the `starts` it had. */
const restarted = async (s: Supervised, starts: number, timeoutMs = 30_000): Promise<number> => {
  const deadline = Date.now() + timeoutMs
  while (s.starts() <= starts) {
    if (Date.now() > deadline) throw new Error(`the service was not restarted within ${timeoutMs / 1000} s`)
    await sleep(20)
  }
  return Date.now()
}

/** Opens the scenario's lab, runs `body` in it, then finishes, counts and cleans up. */
const inLab = async (
  ctx: ChaosContext,
  name: string,
  description: string,
  options: LabOptions,
  body: (lab: Lab) => Promise<void>
): Promise<ScenarioResult> => {
  const lab = await openLab(ctx, name, description, options)
  let result: ScenarioResult | undefined
  try {
    await body(lab)
    result = await lab.finish()
    return result
  } finally {
    await lab.cleanup(result === undefined || !result.ok)
  }
}

// --- processes ------------------------------------------------------------------------------------

const baseline: Scenario = {
  name: "baseline",
  description: "No fault: one instance under load, then the final run. Checks the counting itself: produced = in the lake, 0 lost, 0 duplicated.",
  short: true,
  run: (ctx) =>
    inLab(ctx, "baseline", baseline.description, { partitions: 4 }, async (lab) => {
      const service = lab.service()
      lab.load(rateOf(ctx), 101)
      await service.waitFor(RESUMED)
      await sleep(ctx.quick ? 8_000 : 20_000)
    })
}

const kill9: Scenario = {
  name: "kill-9",
  description: "SIGKILL of the service at a random moment 0.3–2.5 s after it resumed, 20 times (5 in the short form), restarted by the supervisor after 0.5 s each time.",
  short: true,
  run: (ctx) =>
    inLab(ctx, "kill-9", kill9.description, { partitions: 4 }, async (lab) => {
      const service = lab.service()
      lab.load(rateOf(ctx), 102)
      await service.waitFor(RESUMED)
      const times = ctx.quick ? 5 : 20
      for (let i = 1; i <= times; i++) {
        await sleep(between(300, 2_500))
        const starts = service.starts()
        const resumed = service.count(RESUMED)
        service.kill("SIGKILL")
        await restarted(service, starts)
        await lab.recover(`kill -9 #${i}`)
        await service.waitFor(RESUMED, { atLeast: resumed + 1 })
      }
    })
}

const sigterm: Scenario = {
  name: "sigterm",
  description: "SIGTERM at a random moment, 3 times (once in the short form): the service must drain (commit its open windows) and exit 0 within SLUICE_DRAIN_TIMEOUT_MS (10 s); then it is started again.",
  short: true,
  run: (ctx) =>
    inLab(ctx, "sigterm", sigterm.description, { partitions: 4 }, async (lab) => {
      const deadlineMs = Number(lab.env["SLUICE_DRAIN_TIMEOUT_MS"])
      const service = lab.service()
      lab.load(rateOf(ctx), 103)
      await service.waitFor(RESUMED)
      const times = ctx.quick ? 1 : 3
      for (let i = 1; i <= times; i++) {
        await sleep(between(1_000, 3_000))
        const resumed = service.count(RESUMED)
        const { exit, ms } = await service.terminate(deadlineMs + 20_000)
        lab.note(`SIGTERM #${i}: exit ${exit?.code ?? exit?.signal ?? "?"} after ${(ms / 1000).toFixed(1)} s`)
        if (exit?.code !== 0) lab.problem(`SIGTERM #${i}: exited ${exit?.code ?? exit?.signal} instead of 0 (${exit?.reason ?? "no reason printed"})`)
        // The drain has the deadline; closing the consumer and the warehouse may take a moment more.
        if (ms > deadlineMs + 3_000) lab.problem(`SIGTERM #${i}: took ${(ms / 1000).toFixed(1)} s to exit, the drain deadline is ${deadlineMs / 1000} s`)
        service.start()
        await lab.recover(`SIGTERM #${i}`)
        await service.waitFor(RESUMED, { atLeast: resumed + 1 })
      }
    })
}

// --- Kafka and MySQL ---------------------------------------------------------------------------------

const brokerRestart: Scenario = {
  name: "broker-restart",
  description: "The (private) broker is stopped (SIGTERM, controlled shutdown) and started again 3 s later, then killed (SIGKILL) and started again, under load. Recovery: until the first records produced after the restart are committed.",
  short: false,
  run: async (ctx) => {
    const broker = await ctx.privateBroker()
    return inLab(ctx, "broker-restart", brokerRestart.description, { partitions: 4, brokers: broker.brokers }, async (lab) => {
      const service = lab.service()
      lab.load(rateOf(ctx), 104)
      await service.waitFor(RESUMED)
      for (const how of ["SIGTERM", "SIGKILL"] as const) {
        await sleep(6_000)
        if (how === "SIGTERM") await broker.stop()
        else await broker.kill()
        await sleep(3_000)
        await broker.start()
        // Nothing could be produced while the broker was down: measure until the first records
        // produced after it is back have been committed.
        await lab.recover(`broker ${how} and restart`, { newRecords: true })
      }
    })
  }
}

const mysqlRestart: Scenario = {
  name: "mysql-restart",
  description: "The (private) MariaDB is killed (SIGKILL) and started again 4 s later, twice (once in the short form), under load.",
  short: true,
  run: async (ctx) => {
    const mariadb = await ctx.privateMariaDb()
    return inLab(ctx, "mysql-restart", mysqlRestart.description, { partitions: 4, mysqlServer: mariadb.url("") }, async (lab) => {
      const service = lab.service()
      lab.load(rateOf(ctx), 105)
      await service.waitFor(RESUMED)
      const times = ctx.quick ? 1 : 2
      for (let i = 1; i <= times; i++) {
        await sleep(6_000)
        await mariadb.kill()
        await sleep(4_000)
        await mariadb.start()
        await lab.recover(`MySQL SIGKILL #${i}`)
      }
    })
  }
}

/**
 * Kills a connection to `database` that is running a write (an INSERT, an UPDATE or a SELECT … FOR
 * UPDATE: the service runs them only inside a window's transaction), polled every 5 ms; returns its
 * id. PROCESSLIST is read live; INNODB_TRX would be no use here: InnoDB refreshes it only when it
 * was not read for 100 ms.
 */
const killConnectionInTransaction = async (serverUrl: string, database: string, timeoutMs: number): Promise<{ id: number; statement: string } | undefined> => {
  const admin = await createConnection({ uri: serverUrl })
  try {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const [rows] = await admin.query(
        `SELECT ID AS id, LEFT(INFO, 80) AS statement FROM information_schema.PROCESSLIST
         WHERE DB = ? AND COMMAND = 'Query' AND (INFO LIKE 'insert%' OR INFO LIKE 'update%' OR INFO LIKE '%for update')
         LIMIT 1`,
        [database]
      )
      const found = (rows as Array<{ id: number; statement: string }>)[0]
      if (found !== undefined) {
        await admin.query(`KILL ${Number(found.id)}`)
        return { id: Number(found.id), statement: found.statement }
      }
      await sleep(5)
    }
    return undefined
  } finally {
    await admin.end()
  }
}

const mysqlKillConnection: Scenario = {
  name: "mysql-kill-connection",
  description: "`KILL <id>` of a connection of the service (found in information_schema.PROCESSLIST by its database) while it runs a write of a window's transaction, 5 times (2 in the short form), on the private MariaDB.",
  short: true,
  run: async (ctx) => {
    const mariadb = await ctx.privateMariaDb()
    return inLab(ctx, "mysql-kill-connection", mysqlKillConnection.description, { partitions: 4, mysqlServer: mariadb.url("") }, async (lab) => {
      const database = decodeURIComponent(new URL(lab.mysqlUrl).pathname.slice(1))
      const service = lab.service()
      lab.load(rateOf(ctx), 106)
      await service.waitFor(RESUMED)
      const times = ctx.quick ? 2 : 5
      for (let i = 1; i <= times; i++) {
        await sleep(between(1_000, 3_000))
        const killed = await killConnectionInTransaction(mariadb.url(""), database, 20_000)
        if (killed === undefined) {
          lab.problem(`KILL #${i}: no connection of the service ran a write for 20 s`)
          continue
        }
        lab.note(`KILL #${i}: connection ${killed.id} during \`${killed.statement.replaceAll("`", "")}…\``)
        await lab.recover(`KILL connection #${i}`)
      }
    })
  }
}

// --- a cluster of three brokers ----------------------------------------------------------------------

/** Where a partition lives: its leader's node id, its replicas and the in-sync ones. */
interface Placement {
  readonly leader: number
  readonly replicas: ReadonlyArray<number>
  readonly isr: ReadonlyArray<number>
}

/** The placement of `partition` of `topic`, from fresh metadata. */
const placement = async (brokers: ReadonlyArray<string>, topic: string, partition: number): Promise<Placement> => {
  const admin = new Admin({ clientId: "sluice-chaos-admin", bootstrapBrokers: [...brokers] })
  try {
    const metadata = await admin.metadata({ topics: [topic], forceUpdate: true })
    const found = metadata.topics.get(topic)?.partitions[partition]
    if (found === undefined) throw new Error(`no metadata for ${topic}/${partition}`)
    return { leader: found.leader, replicas: [...found.replicas], isr: [...found.isr] }
  } finally {
    await admin.close().catch(() => undefined)
  }
}

/** Waits until `partition` is led by another node than `former` (-1 = none), polled every 250 ms; returns it. */
const newLeader = async (brokers: ReadonlyArray<string>, topic: string, partition: number, former: number, timeoutMs = 60_000): Promise<number> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const now = await placement(brokers, topic, partition).catch(() => undefined)
    if (now !== undefined && now.leader !== former && now.leader >= 0) return now.leader
    if (Date.now() > deadline) throw new Error(`${topic}/${partition} still led by node ${former} after ${timeoutMs / 1000} s`)
    await sleep(250)
  }
}

/** Checks that the scenario's topic has three replicas per partition, as the cluster's default says. */
const checkReplication = async (lab: Lab, partitions: number): Promise<void> => {
  for (let p = 0; p < partitions; p++) {
    const { replicas } = await placement(lab.brokers, lab.topic, p)
    if (replicas.length !== 3) lab.problem(`${lab.topic}/${p} has ${replicas.length} replicas, not 3`)
  }
}

/**
 * Each partition's end offset (high watermark) as its leader tells it through `address` alone, or
 * null for a partition whose leader does not answer within 5 s (one on a stopped node).
 */
const highWatermarks = async (lab: Lab, address: string): Promise<Array<number | null>> => {
  const consumer = new Consumer({ clientId: "sluice-chaos-hw", groupId: `${lab.group}-hw`, bootstrapBrokers: [address], retries: 0 })
  try {
    const one = (partition: number) =>
      Promise.race([
        consumer.listOffsets({ topics: [lab.topic], partitions: { [lab.topic]: [partition] }, timestamp: -1n })
          .then((offsets) => {
            const end = offsets.get(lab.topic)?.[partition]
            return end === undefined ? null : Number(end)
          })
          .catch(() => null),
        sleep(5_000).then(() => null)
      ])
    return await Promise.all(Array.from({ length: lab.partitions }, (_, p) => one(p)))
  } finally {
    void consumer.close(true).catch(() => undefined)
  }
}

const clusterLeaderStop: Scenario = {
  name: "cluster-leader-stop",
  description: "Three brokers in containers (replication factor 3, min.insync.replicas=2, producers with acks=all): the container of partition 0's leader is stopped (docker stop: SIGTERM, a controlled shutdown) under load, kept down 10 s (6 s in the short form) while the service follows the new leader, then started again. Recovery: after the stop (on two brokers), and after the start.",
  short: false,
  containers: true,
  run: async (ctx) => {
    const cluster = await ctx.kafkaCluster()
    const brokers = cluster.brokers.split(",")
    return inLab(ctx, "cluster-leader-stop", clusterLeaderStop.description, { partitions: 4, brokers }, async (lab) => {
      await checkReplication(lab, 4)
      const service = lab.service()
      lab.load(rateOf(ctx), 113)
      await service.waitFor(RESUMED)
      await sleep(5_000)
      const { leader } = await placement(brokers, lab.topic, 0)
      const node = cluster.nodes.find((n) => n.id === leader)
      if (node === undefined) throw new Error(`partition 0's leader is node ${leader}, not one of the cluster's`)
      const stoppedAt = Date.now()
      await node.stop()
      const next = await newLeader(brokers.filter((b) => b !== node.address), lab.topic, 0, leader)
      lab.note(`stopped node ${leader} (leader of partition 0) in ${((Date.now() - stoppedAt) / 1000).toFixed(1)} s; node ${next} leads it now`)
      await lab.recover(`leader (node ${leader}) stopped`)
      await sleep(ctx.quick ? 6_000 : 10_000)
      const startedAt = Date.now()
      await node.start()
      lab.note(`node ${leader} started again in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`)
      await lab.recover(`node ${leader} started again`)
      await sleep(3_000)
    })
  }
}

const clusterQuorumLoss: Scenario = {
  name: "cluster-quorum-loss",
  description: "Three brokers in containers (replication factor 3, min.insync.replicas=2, acks=all): two containers (partition 0's leader and one other) are stopped under load for 20 s (12 s in the short form), so no partition has two in-sync replicas and producing stops; the service must wait without losing its place, and catch up once both are started again. Recovery: until the first records produced after the return are committed.",
  short: false,
  containers: true,
  run: async (ctx) => {
    const cluster = await ctx.kafkaCluster()
    const brokers = cluster.brokers.split(",")
    return inLab(ctx, "cluster-quorum-loss", clusterQuorumLoss.description, { partitions: 4, brokers }, async (lab) => {
      await checkReplication(lab, 4)
      const service = lab.service()
      const load = lab.load(rateOf(ctx), 114)
      await service.waitFor(RESUMED)
      await sleep(5_000)
      const { leader } = await placement(brokers, lab.topic, 0)
      const stopped = [cluster.nodes.find((n) => n.id === leader)!, cluster.nodes.find((n) => n.id !== leader)!]
      const exitsBefore = service.exits().length
      await Promise.all(stopped.map((n) => n.stop()))
      const downAt = Date.now()
      // Producing must stop: with one in-sync replica of three, no acks=all write can commit, so the
      // end offsets (the high watermarks) seen through the surviving node do not move.
      const survivor = cluster.nodes.find((n) => !stopped.includes(n))!
      const downFor = ctx.quick ? 12_000 : 20_000
      await sleep(3_000)
      const early = await highWatermarks(lab, survivor.address)
      await sleep(Math.max(0, downFor - (Date.now() - downAt)))
      const late = await highWatermarks(lab, survivor.address)
      const shown = (ends: ReadonlyArray<number | null>) => ends.map((end) => end ?? "?").join(",")
      lab.note(`end offsets through node ${survivor.id} while two nodes were down (? where the leader was down): ${shown(early)} at 3 s, ${shown(late)} at ${((Date.now() - downAt) / 1000).toFixed(0)} s`)
      if (late.some((end, p) => end !== null && early[p] !== null && end !== early[p])) {
        lab.problem(`producing went on with two of three brokers down: end offsets ${shown(early)} became ${shown(late)}`)
      }
      lab.note(`nodes ${stopped.map((n) => n.id).join(" and ")} down ${((Date.now() - downAt) / 1000).toFixed(0)} s; the load generator exited ${load.exits().length} times, the service ${service.exits().length - exitsBefore} times`)
      await Promise.all(stopped.map((n) => n.start()))
      lab.note(`both started again after ${((Date.now() - downAt) / 1000).toFixed(0)} s down`)
      await lab.recover("two of three brokers stopped and started", { newRecords: true })
      await sleep(3_000)
    })
  }
}

// --- group membership ---------------------------------------------------------------------------------

const freeze: Scenario = {
  name: "freeze",
  description: `Two instances (dynamic members, SLUICE_SESSION_TIMEOUT_MS=${SESSION_TIMEOUT_MS}); one is frozen with SIGSTOP until the other has taken its partitions over, then 2 s more, then thawed (SIGCONT): 3 times, alternating (once in the short form).`,
  short: true,
  run: (ctx) =>
    inLab(ctx, "freeze", freeze.description, {
      partitions: 4,
      env: { SLUICE_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS), SLUICE_INSTANCE_ID: undefined }
    }, async (lab) => {
      const a = lab.service()
      lab.load(rateOf(ctx), 107)
      await a.waitFor(RESUMED)
      const b = lab.service()
      await b.waitFor(RESUMED)
      await sleep(3_000)
      const times = ctx.quick ? 1 : 3
      for (let i = 1; i <= times; i++) {
        const [victim, other] = i % 2 === 1 ? [a, b] : [b, a]
        const taken = other.count(RESUMED)
        const frozenAt = Date.now()
        const pid = victim.freeze()
        if (pid === undefined) {
          lab.problem(`freeze #${i}: no process to freeze`)
          continue
        }
        try {
          await other.waitFor(RESUMED, { atLeast: taken + 1, timeoutMs: SESSION_TIMEOUT_MS * 5 })
          lab.note(`freeze #${i}: the other instance took over after ${((Date.now() - frozenAt) / 1000).toFixed(1)} s`)
        } catch {
          lab.problem(`freeze #${i}: the other instance took nothing over within ${SESSION_TIMEOUT_MS * 5 / 1000} s`)
        }
        await sleep(2_000)
        const rejoined = victim.count(RESUMED)
        victim.thaw(pid)
        await lab.recover(`thaw #${i}`)
        // The thawed instance rejoins the group (or, if it died, its restart does) before the next freeze.
        await victim.waitFor(RESUMED, { atLeast: rejoined + 1, timeoutMs: SESSION_TIMEOUT_MS * 5 }).catch(() =>
          lab.note(`thaw #${i}: the thawed instance got no partition back within ${SESSION_TIMEOUT_MS * 5 / 1000} s`)
        )
        await sleep(2_000)
      }
    })
}

const scale: Scenario = {
  name: "scale",
  description: "One instance, then three in the same group (dynamic members), then one again (the two others drained with SIGTERM), under load.",
  short: false,
  run: (ctx) =>
    inLab(ctx, "scale", scale.description, {
      partitions: 4,
      env: { SLUICE_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS), SLUICE_INSTANCE_ID: undefined }
    }, async (lab) => {
      const a = lab.service()
      lab.load(rateOf(ctx), 108)
      await a.waitFor(RESUMED)
      await sleep(5_000)
      const b = lab.service()
      const c = lab.service()
      await Promise.all([b.waitFor(RESUMED), c.waitFor(RESUMED)])
      await lab.recover("1 → 3 instances")
      await sleep(8_000)
      const drains = await Promise.all([b, c].map((s) => s.terminate(30_000)))
      for (const [i, d] of drains.entries()) {
        if (d.exit?.code !== 0) lab.problem(`scale down: instance ${i + 2} exited ${d.exit?.code ?? d.exit?.signal} after SIGTERM (${d.exit?.reason ?? "no reason printed"})`)
      }
      await lab.recover("3 → 1 instance")
      await sleep(3_000)
    })
}

// --- upstream -------------------------------------------------------------------------------------------

const transactions: Scenario = {
  name: "transactions",
  description: "A transactional upstream (the harness's own @platformatic/kafka producer): 40 transactions of 250 messages over 2 partitions (16 of 100 in the short form), every other one aborted; the first half is a backlog when the service starts (so that one fetch holds several aborted transactions), the second half comes while it runs. Only the committed ones are produced.",
  short: true,
  run: (ctx) =>
    inLab(ctx, "transactions", transactions.description, { partitions: 2 }, async (lab) => {
      const count = ctx.quick ? 16 : 40
      const size = ctx.quick ? 100 : 250
      const next = makeMessageGenerator({ seed: 109, badRatio: 0.01 })
      const producer = new Producer({
        clientId: "sluice-chaos-tx",
        bootstrapBrokers: [...lab.brokers],
        transactionalId: `chaos-tx-${lab.sandbox.id}`,
        idempotent: true,
        acks: -1,
        retries: 5
      })
      let committed = 0
      const transaction = async (t: number) => {
        const open = await producer.beginTransaction()
        const messages = Array.from({ length: size }, (_, i) => {
          const m = next()
          return { topic: lab.topic, partition: i % 2, key: Buffer.from(m.key), value: m.value }
        })
        await open.send({ messages })
        if (t % 2 === 1) await open.abort()
        else {
          await open.commit()
          committed += size
        }
      }
      try {
        for (let t = 0; t < count / 2; t++) await transaction(t)
        const service = lab.service()
        await service.waitFor(RESUMED)
        for (let t = count / 2; t < count; t++) {
          await transaction(t)
          await sleep(50)
        }
      } finally {
        await producer.close().catch(() => undefined)
      }
      const read = (await readCommitted(lab.brokers, lab.topic)).length
      lab.note(`the producer committed ${committed} messages in ${count / 2} transactions and aborted ${count * size - committed}`)
      if (read !== committed) lab.problem(`the read_committed reader found ${read} records, the producer committed ${committed}: the harness is wrong`)
      await lab.recover("last transaction")
    })
}

/** Waits until `topic` is no longer listed (its name can be created again). */
const awaitDeleted = async (brokers: ReadonlyArray<string>, topic: string): Promise<void> => {
  const admin = new Admin({ clientId: "sluice-chaos-admin", bootstrapBrokers: [...brokers] })
  try {
    for (let i = 0; i < 300; i++) {
      if (!(await admin.listTopics()).includes(topic)) return
      await sleep(100)
    }
    throw new Error(`topic ${topic} still listed 30 s after its deletion`)
  } finally {
    await admin.close().catch(() => undefined)
  }
}

const topicRecreate: Scenario = {
  name: "topic-recreate",
  description: "Produce, consume, delete the topic, recreate it with the same name and partitions, produce again: every message of the new topic must land, the old ones stay.",
  short: false,
  run: (ctx) =>
    inLab(ctx, "topic-recreate", topicRecreate.description, { partitions: 4 }, async (lab) => {
      const messages = ctx.quick ? 2_000 : 8_000
      const produce = async (seed: number) => {
        const run = await runSluice(
          ["produce", "--topic", lab.topic, "--messages", String(messages), "--rate", String(rateOf(ctx) * 2), "--partitions", "4", "--bad-ratio", "0.01", "--seed", String(seed)],
          lab.env
        )
        if (run.code !== 0) throw new Error(`sluice produce exited ${run.code ?? run.signal}:\n${run.output}`)
      }
      const service = lab.service()
      await service.waitFor(RESUMED)
      await produce(110)
      const landed = await secondsUntilCommitted(await endOffsets(lab), () => committedEverywhere(lab), 60_000)
      if (landed === null) lab.problem("the first topic's messages were not all committed within 60 s")
      const first = await readCommitted(lab.brokers, lab.topic)
      lab.addProduced(first)
      await Effect.runPromise(deleteTopics(lab.brokers, [lab.topic]))
      await awaitDeleted(lab.brokers, lab.topic)
      await sleep(2_000)
      await Effect.runPromise(ensureTopic(lab.brokers, lab.topic, 4))
      const recreatedAt = Date.now()
      await produce(111)
      const second = await readCommitted(lab.brokers, lab.topic)
      lab.note(`${first.length} records before the deletion, ${second.length} after the recreation`)
      // Offsets start again at 0: the lake's committed offsets say nothing here, only its rows do.
      const deadline = recreatedAt + 30_000
      let seconds: number | null = null
      while (Date.now() < deadline) {
        const rows = await readLakeRows(lab.lakeDir, lab.topic).catch(() => undefined)
        if (rows !== undefined && countRecords(second, rows, 0).lost === 0) {
          seconds = (Date.now() - recreatedAt) / 1000
          break
        }
        await sleep(1_000)
      }
      lab.recorded({ fault: "topic deleted and recreated", seconds: seconds === null ? null : Math.round(seconds * 10) / 10 })
    })
}

// --- disk -------------------------------------------------------------------------------------------------

/** Writes zeros into `file` until the file system has no space left; returns the bytes written. */
const fillDisk = (file: string): number => {
  const fd = openSync(file, "a")
  let written = 0
  try {
    for (const size of [1024 * 1024, 4096, 1]) {
      const chunk = Buffer.alloc(size)
      for (;;) {
        try {
          written += writeSync(fd, chunk)
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === "ENOSPC") break
          throw error
        }
      }
    }
  } finally {
    closeSync(fd)
  }
  return written
}

const NO_SPACE = /ENOSPC|no space left/i

const diskFull: Scenario = {
  name: "disk-full",
  description: "The lake folder is a 256 MiB tmpfs; it is filled (and kept full) for 10 s (6 s in the short form) so that commits fail, then the filler is deleted: commits must fail with a clear reason, and resume when space returns.",
  short: false,
  run: (ctx) =>
    inLab(ctx, "disk-full", diskFull.description, { partitions: 4 }, async (lab) => {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=256m", "tmpfs", lab.lakeDir])
      lab.atCleanup(() => {
        execFileSync("umount", [lab.lakeDir])
      })
      const filler = path.join(lab.lakeDir, "filler")
      const service = lab.service()
      lab.load(rateOf(ctx), 112)
      await service.waitFor(RESUMED)
      await sleep(6_000)
      const complaints = service.count(NO_SPACE)
      const filled = fillDisk(filler)
      lab.note(`filled the lake's tmpfs with ${(filled / 1024 / 1024).toFixed(1)} MiB`)
      // Whatever the service frees meanwhile (orphans it deletes) is taken back at once.
      const until = Date.now() + (ctx.quick ? 6_000 : 10_000)
      while (Date.now() < until) {
        fillDisk(filler)
        await sleep(200)
      }
      const reasons = service.output().split("\n").filter((l) => NO_SPACE.test(l))
      if (service.count(NO_SPACE) <= complaints) lab.problem("no line of the service said the disk was full (ENOSPC) while it was")
      else lab.note(`while full: ${reasons.at(-1)?.slice(0, 300)}`)
      rmSync(filler)
      await lab.recover("disk full, then space freed")
    })
}

/** Every scenario, in the order they run. */
export const scenarios: ReadonlyArray<Scenario> = [
  baseline,
  kill9,
  sigterm,
  brokerRestart,
  mysqlRestart,
  mysqlKillConnection,
  clusterLeaderStop,
  clusterQuorumLoss,
  freeze,
  scale,
  transactions,
  topicRecreate,
  diskFull
]

export const scenarioNames = scenarios.map((s) => s.name)

/** A scenario the harness could not run to its end: the figures are unknown. */
export interface HarnessFailure {
  readonly description: string
  readonly failed: string
  readonly produced: null
  readonly inLake: null
  readonly inWarehouse: null
  readonly deadLettered: null
  readonly duplicated: null
  readonly lost: null
  readonly recoverySeconds: null
  readonly ok: false
}

export type ScenarioOutcome = ScenarioResult | HarnessFailure

/** Runs `names` (default: all) one after the other; a scenario that throws is reported as such. */
export const runScenarios = async (ctx: ChaosContext, names: ReadonlyArray<string>): Promise<Record<string, ScenarioOutcome>> => {
  const out: Record<string, ScenarioOutcome> = {}
  for (const scenario of scenarios.filter((s) => names.includes(s.name))) {
    const startedAt = Date.now()
    ctx.log(`${scenario.name}: start`)
    try {
      const result = await scenario.run(ctx)
      out[scenario.name] = result
      ctx.log(
        `${scenario.name}: ${result.ok ? "OK" : "FAILED"} in ${((Date.now() - startedAt) / 1000).toFixed(0)} s: produced ${result.produced}, ` +
          `lake ${result.inLake} (${result.deadLettered} dead letters), warehouse ${result.inWarehouse}/${result.warehouseExpected}, ` +
          `duplicated ${result.duplicated}, lost ${result.lost}, extra ${result.extra}, recovery ${result.recoverySeconds ?? "-"} s` +
          (result.problems.length > 0 ? `\n  ${result.problems.join("\n  ")}` : "")
      )
    } catch (error) {
      const message = (error as Error).message.split("\n").slice(0, 6).join("\n")
      ctx.log(`${scenario.name}: HARNESS FAILURE: ${message}`)
      out[scenario.name] = {
        description: scenario.description,
        failed: message,
        produced: null,
        inLake: null,
        inWarehouse: null,
        deadLettered: null,
        duplicated: null,
        lost: null,
        recoverySeconds: null,
        ok: false
      }
    }
  }
  return out
}
