/**
 * Reading a test's warehouse back: what its facts count.
 */
import { createConnection } from "mysql2/promise"

/** `SUM(transaction_count)` of a fact table (default: the user summary). */
export const countedInWarehouse = async (url: string, table = "fact_user_transaction_summary"): Promise<number> => {
  const connection = await createConnection({ uri: url })
  try {
    const [rows] = await connection.query(`SELECT COALESCE(SUM(transaction_count), 0) AS n FROM ${table}`)
    return Number((rows as Array<{ n: string }>)[0]!.n)
  } finally {
    await connection.end()
  }
}
