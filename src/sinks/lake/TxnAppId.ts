/**
 * The Delta `txn` application ids the lake commits under, spelled in one place: one per feed and
 * source partition (its version is the last offset committed), and beside it one whose version is
 * the decisions version that commit used and one for the partition's state after it.
 */
import type { SourcePartition } from "../../topology/Record.ts"

/** `<feed>@<topic>#<topicId>/<partition>`: offsets belong to one incarnation of a topic. */
export const offsetsAppId = (feed: string, sp: SourcePartition): string => `${feed}@${sp.topic}#${sp.topicId}/${sp.partition}`

/** `<offsets app id>:decisions`. */
export const decisionsAppId = (feed: string, sp: SourcePartition): string => `${offsetsAppId(feed, sp)}:decisions`

/** `<offsets app id>:state`: the partition's state after the commit's last offset (a watermark's largest event time). */
export const stateAppId = (feed: string, sp: SourcePartition): string => `${offsetsAppId(feed, sp)}:state`

/** An offsets app id read back: the topic id is empty for ids written before topic ids were kept. */
export interface ParsedAppId {
  readonly feed: string
  readonly topic: string
  readonly topicId: string
  readonly partition: number
}

const offsetsPattern = /^(.+?)@(.+?)(?:#([A-Za-z0-9_-]+))?\/(\d+)$/

/** Parses an offsets app id (not a decisions one); undefined for ids of other applications. */
export const parseOffsetsAppId = (appId: string): ParsedAppId | undefined => {
  const m = offsetsPattern.exec(appId)
  return m === null ? undefined : { feed: m[1]!, topic: m[2]!, topicId: m[3] ?? "", partition: Number(m[4]) }
}
