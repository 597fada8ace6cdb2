/**
 * The mode of each lake folder by the sensitivity of what it holds, as the seeds' permissions ask:
 * raw data (the transactions with their personal fields, the blacklisted matches, sales, dead
 * letters' raw payloads, declared feeds, the registry) is for its owner and group only (0750);
 * what carries no personal data (the anonymized stream, the aggregate tables) and the folders that
 * lead to it are open to read (0755).
 */

/** Owner and group only. */
export const RAW_FOLDER_MODE = 0o750

/** Readable by every user of the machine. */
export const OPEN_FOLDER_MODE = 0o755

/** The mode of the folder at `key` (relative to the lake root, `/`-separated). */
export const folderMode = (key: string): number => {
  const [kind, table] = key.split("/")
  if (table === undefined) return kind === "streams" || kind === "tables" ? OPEN_FOLDER_MODE : RAW_FOLDER_MODE
  if (kind === "tables") return OPEN_FOLDER_MODE
  if (kind === "streams" && table.endsWith("_anonymized")) return OPEN_FOLDER_MODE
  return RAW_FOLDER_MODE
}
