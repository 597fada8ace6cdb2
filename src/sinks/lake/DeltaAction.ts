/**
 * The actions of a Delta Lake transaction log, as the protocol spells them in JSON commits and
 * checkpoints (https://github.com/delta-io/delta/blob/master/PROTOCOL.md). Types only, plus the
 * line codec of a commit file.
 */

export interface Protocol {
  readonly minReaderVersion: number
  readonly minWriterVersion: number
  /** Only with minReaderVersion 3 (table features); absent otherwise. */
  readonly readerFeatures?: ReadonlyArray<string> | null
  /** Only with minWriterVersion 7 (table features); absent otherwise. */
  readonly writerFeatures?: ReadonlyArray<string> | null
}

export interface Format {
  readonly provider: "parquet"
  readonly options: Readonly<Record<string, string>>
}

export interface MetaData {
  readonly id: string
  readonly name?: string | null
  readonly description?: string | null
  readonly format: Format
  /** The table schema as Delta's JSON schema serialization. */
  readonly schemaString: string
  readonly partitionColumns: ReadonlyArray<string>
  readonly configuration: Readonly<Record<string, string>>
  readonly createdTime?: number | null
}

export interface Add {
  /** Relative to the table root, URL-encoded as the protocol requires. */
  readonly path: string
  readonly partitionValues: Readonly<Record<string, string | null>>
  readonly size: number
  readonly modificationTime: number
  readonly dataChange: boolean
  /** JSON: numRecords, minValues, maxValues, nullCount. */
  readonly stats?: string | null
  readonly tags?: Readonly<Record<string, string>> | null
}

export interface Remove {
  readonly path: string
  readonly deletionTimestamp?: number | null
  readonly dataChange: boolean
  readonly extendedFileMetadata?: boolean | null
  readonly partitionValues?: Readonly<Record<string, string | null>> | null
  readonly size?: number | null
}

/** An application's idempotency marker: for us, `<feed>@<topic>/<partition>` → last committed offset. */
export interface Txn {
  readonly appId: string
  readonly version: number
  readonly lastUpdated?: number | null
}

export interface CommitInfo {
  readonly timestamp: number
  readonly operation: string
  readonly operationParameters?: Readonly<Record<string, string>>
  readonly isBlindAppend?: boolean
  readonly engineInfo?: string
  readonly [key: string]: unknown
}

/** One line of a commit file: exactly one of the keys is set. */
export type Action =
  | { readonly protocol: Protocol }
  | { readonly metaData: MetaData }
  | { readonly add: Add }
  | { readonly remove: Remove }
  | { readonly txn: Txn }
  | { readonly commitInfo: CommitInfo }

/** Serializes actions as a commit file: one JSON object per line. */
export const encodeCommit = (actions: ReadonlyArray<Action>): string =>
  actions.map((action) => JSON.stringify(action)).join("\n") + "\n"

/** Parses a commit file; a malformed line is reported with the file's name and line number. */
export const decodeCommit = (text: string, source: string): Array<Action> => {
  const actions: Array<Action> = []
  const lines = text.split("\n")
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim()
    if (line.length === 0) continue
    try {
      actions.push(JSON.parse(line) as Action)
    } catch (cause) {
      throw new Error(`${source}:${i + 1}: not a JSON action (${(cause as Error).message})`, { cause })
    }
  }
  return actions
}
