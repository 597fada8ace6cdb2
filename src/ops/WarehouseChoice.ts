/**
 * Which warehouse a command uses: the MySQL/MariaDB at MYSQL_URL when it is set (it must answer),
 * else the one at the default address when it answers, else the embedded database file;
 * `SLUICE_WAREHOUSE=mysql|embedded` decides instead.
 */
import { Effect, Redacted, type Scope } from "effect"
import { redactUrl } from "../sinks/warehouse/ConnectionUrl.ts"
import { openMysqlWarehouse } from "../sinks/warehouse/MysqlWarehouse.ts"
import type { Warehouse, WarehouseError } from "../sinks/warehouse/Warehouse.ts"
import { defaultOutagePolicy, waitOut } from "../topology/Outage.ts"
import type { SettingsShape } from "./Settings.ts"

const unreachable = (e: WarehouseError): boolean => {
  const code = (e.cause as { code?: string } | undefined)?.code
  return code === "ECONNREFUSED" || code === "ETIMEDOUT" || code === "EHOSTUNREACH" || code === "ENOTFOUND"
}

// Loaded only when needed: most deployments never open the embedded database.
const openEmbedded = (file: string) =>
  Effect.promise(() => import("../sinks/warehouse/SqliteWarehouse.ts")).pipe(
    Effect.flatMap(({ openSqliteWarehouse }) => openSqliteWarehouse(file))
  )

export const openWarehouse = (settings: SettingsShape): Effect.Effect<Warehouse, WarehouseError, Scope.Scope> => {
  if (settings.warehouse === "embedded") return openEmbedded(settings.warehouseFile)
  if (settings.warehouse === "mysql" || settings.mysqlUrlExplicit) {
    // A configured MySQL that is restarting is waited for, as it is while the service runs.
    return waitOut(
      `warehouse: connect to ${redactUrl(Redacted.value(settings.mysqlUrl))}`,
      openMysqlWarehouse(settings.mysqlUrl),
      (e) => e.retryable,
      { ...defaultOutagePolicy, deadlineMs: settings.outageTimeoutMs }
    )
  }
  return openMysqlWarehouse(settings.mysqlUrl).pipe(
    Effect.catchIf(unreachable, () =>
      Effect.logInfo(`no MySQL answers at ${redactUrl(Redacted.value(settings.mysqlUrl))}: using the embedded warehouse`).pipe(
        Effect.andThen(openEmbedded(settings.warehouseFile))
      ))
  )
}

/** Which warehouse `openWarehouse` would use, said without connecting (the password masked). */
export const describeWarehouseChoice = (settings: SettingsShape): string => {
  if (settings.warehouse === "embedded") return `embedded SQLite at ${settings.warehouseFile}`
  const url = redactUrl(Redacted.value(settings.mysqlUrl))
  if (settings.warehouse === "mysql" || settings.mysqlUrlExplicit) return url
  return `${url}, or embedded SQLite at ${settings.warehouseFile} when nothing answers there`
}
