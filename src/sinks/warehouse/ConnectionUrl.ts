/**
 * MySQL connection URLs as text a person may see: the password masked in the URL itself and in
 * any message that quotes one.
 */

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
