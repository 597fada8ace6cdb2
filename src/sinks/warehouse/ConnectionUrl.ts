/**
 * MySQL connection URLs as text a person may see: the password masked in the URL itself and in
 * any message that quotes one.
 */

/** The warehouse when none is configured: the local MariaDB/MySQL, user root without password, database `sluice`. */
export const DEFAULT_MYSQL_URL = "mysql://root@127.0.0.1:3306/sluice"

/** `url` fit for logs: the password, if any, replaced by `***`; an unparsable URL is not echoed. */
export const redactUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return "<unparsable MYSQL_URL>"
  }
}

/** `text` with the password of every `mysql://user:password@` in it masked. */
export const redactSecrets = (text: string): string => text.replace(/((?:mysql|mariadb):\/\/[^:/@\s]+:)[^@\s]*@/g, "$1***@")
