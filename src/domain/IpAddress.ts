/**
 * IP addresses as text: parsing IPv4 and IPv6 (IPv4-mapped IPv6 read as IPv4), their canonical
 * text (RFC 5952 for IPv6) and their network prefixes. Pure, allocation-light: it runs per record.
 */

/**
 * A parsed address: IPv4 as an unsigned 32-bit number, IPv6 as its eight 16-bit groups. An
 * IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, `::ffff:cb00:7107`) is its IPv4 address.
 */
export type IpAddress =
  | { readonly version: 4; readonly value: number }
  | { readonly version: 6; readonly groups: ReadonlyArray<number> }

/**
 * Decimal octets only, each 0 to 255 without leading zeros: `010.0.0.1` is octal to some readers and
 * decimal to others, so it is no address here (as Node's `net.isIPv4` says).
 */
const parseIpv4 = (text: string, from: number, to: number): number => {
  let value = 0
  let octets = 0
  let i = from
  while (i <= to) {
    const start = i
    let octet = 0
    while (i < to) {
      const d = text.charCodeAt(i) - 48
      if (d < 0 || d > 9) break
      octet = octet * 10 + d
      i++
    }
    const digits = i - start
    if (digits === 0 || digits > 3 || octet > 255 || (digits > 1 && text.charCodeAt(start) === 48)) return -1
    value = value * 256 + octet
    octets++
    if (i === to) break
    if (text.charCodeAt(i) !== 46 || octets === 4) return -1
    i++
  }
  return octets === 4 && i === to ? value : -1
}

const hexValue = (c: number): number => {
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 97 && c <= 102) return c - 87
  if (c >= 65 && c <= 70) return c - 55
  return -1
}

// A zone (`fe80::1%eth0`) names a local interface: accepted and dropped, as it says nothing of the address.
const ZONE = /^[0-9A-Za-z_.~-]+$/

/**
 * The eight groups of an IPv6 address, or undefined: 1 to 4 hex digits per group, one `::` at most
 * standing for one or more zero groups, an IPv4 address in the last 32 bits allowed.
 */
const parseIpv6 = (whole: string): Array<number> | undefined => {
  let text = whole
  const percent = text.indexOf("%")
  if (percent >= 0) {
    if (!ZONE.test(text.slice(percent + 1))) return undefined
    text = text.slice(0, percent)
  }
  const gap = text.indexOf("::")
  if (gap >= 0 && text.indexOf("::", gap + 1) >= 0) return undefined
  const head = gap < 0 ? text : text.slice(0, gap)
  const tail = gap < 0 ? "" : text.slice(gap + 2)
  const readGroups = (part: string, lastPart: boolean): Array<number> | undefined => {
    if (part === "") return []
    const pieces = part.split(":")
    const groups: Array<number> = []
    for (let k = 0; k < pieces.length; k++) {
      const piece = pieces[k]!
      if (lastPart && k === pieces.length - 1 && piece.includes(".")) {
        const v4 = parseIpv4(piece, 0, piece.length)
        if (v4 < 0) return undefined
        groups.push(Math.floor(v4 / 65536), v4 % 65536)
        continue
      }
      if (piece.length === 0 || piece.length > 4) return undefined
      let g = 0
      for (let i = 0; i < piece.length; i++) {
        const h = hexValue(piece.charCodeAt(i))
        if (h < 0) return undefined
        g = g * 16 + h
      }
      groups.push(g)
    }
    return groups
  }
  const left = readGroups(head, gap < 0)
  const right = readGroups(tail, true)
  if (left === undefined || right === undefined) return undefined
  if (gap < 0) return left.length === 8 ? left : undefined
  const zeros = 8 - left.length - right.length
  if (zeros < 1) return undefined
  return [...left, ...Array.from({ length: zeros }, () => 0), ...right]
}

/** An address, or undefined when the text is not exactly one (no brackets, port, prefix length or spaces). */
export const parseIp = (text: string): IpAddress | undefined => {
  const v4 = parseIpv4(text, 0, text.length)
  if (v4 >= 0) return { version: 4, value: v4 }
  if (!text.includes(":")) return undefined
  const groups = parseIpv6(text)
  if (groups === undefined) return undefined
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    return { version: 4, value: groups[6]! * 65536 + groups[7]! }
  }
  return { version: 6, groups }
}

const formatIpv4 = (value: number): string =>
  `${Math.floor(value / 16777216)}.${Math.floor(value / 65536) % 256}.${Math.floor(value / 256) % 256}.${value % 256}`

/**
 * RFC 5952's text of eight groups: lowercase hex without leading zeros, the longest run of two or
 * more zero groups (the first of equal runs) written `::`.
 */
const formatIpv6 = (groups: ReadonlyArray<number>): string => {
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const hex = (from: number, to: number) => groups.slice(from, to).map((g) => g.toString(16)).join(":")
  if (bestStart < 0) return hex(0, 8)
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`
}

/** The canonical text of an address: dotted decimal for IPv4 (mapped ones included), RFC 5952 for IPv6. */
export const formatIp = (ip: IpAddress): string => (ip.version === 4 ? formatIpv4(ip.value) : formatIpv6(ip.groups))

/** The canonical text of an address written any valid way, or undefined when the text is not an address. */
export const canonicalIp = (text: string): string | undefined => {
  // Decimal octets without leading zeros have one spelling: an IPv4 address is its own canonical text.
  if (parseIpv4(text, 0, text.length) >= 0) return text
  const ip = parseIp(text)
  return ip === undefined ? undefined : formatIp(ip)
}

/**
 * The network of an address in CIDR notation: its first `prefix4` bits (IPv4) or `prefix6` bits
 * (IPv6) kept, the rest zeroed, e.g. `203.0.113.0/24`, `2001:db8:85a3::/48`.
 */
export const networkOf = (ip: IpAddress, prefix4: number, prefix6: number): string => {
  if (ip.version === 4) {
    const size = 2 ** (32 - prefix4)
    return `${formatIpv4(Math.floor(ip.value / size) * size)}/${prefix4}`
  }
  const groups = ip.groups.map((g, i) => {
    const kept = Math.min(Math.max(prefix6 - i * 16, 0), 16)
    const size = 2 ** (16 - kept)
    return Math.floor(g / size) * size
  })
  return `${formatIpv6(groups)}/${prefix6}`
}
