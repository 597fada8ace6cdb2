import { isIP } from "node:net"
import { describe, expect, it } from "vitest"
import { makeRandom } from "../../src/domain/Generator.ts"
import { canonicalIp, networkOf, parseIp } from "../../src/domain/IpAddress.ts"

describe("parseIp and canonicalIp", () => {
  it.each([
    ["203.0.113.7", "203.0.113.7"],
    ["0.0.0.0", "0.0.0.0"],
    ["255.255.255.255", "255.255.255.255"],
    ["2001:0db8:0000:0000:0000:ff00:0042:8329", "2001:db8::ff00:42:8329"],
    ["2001:DB8:85A3::8A2E:370:7334", "2001:db8:85a3::8a2e:370:7334"],
    // RFC 5952: the first of two equally long runs of zeros is the one compressed.
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    // …and the longest one, wherever it is.
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"],
    // A single zero group is never compressed.
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["2001:db8::1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["::", "::"],
    ["::1", "::1"],
    ["1::", "1::"],
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
    ["fe80::1%eth0", "fe80::1"],
    // IPv4-mapped IPv6 is IPv4, in either spelling; IPv4-compatible (deprecated) and NAT64 stay IPv6.
    ["::ffff:192.0.2.1", "192.0.2.1"],
    ["::FFFF:c000:0201", "192.0.2.1"],
    ["0:0:0:0:0:ffff:192.0.2.1", "192.0.2.1"],
    ["::192.0.2.1", "::c000:201"],
    ["64:ff9b::192.0.2.1", "64:ff9b::c000:201"]
  ])("reads %s as %s", (text, canonical) => {
    expect(canonicalIp(text)).toBe(canonical)
  })

  it.each([
    "", "203.0.113", "203.0.113.7.1", "203.0.113.256", "203.0.113.-1", "010.0.0.1", "203.0.113.07", " 203.0.113.7", "203.0.113.7 ",
    "203.0.113.7:8080", "203.0.113.7/32", "localhost", "example.com", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "g::", ":1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:", "[::1]", "::1/128", "1:2:3:4:5:6:7:8::", "::ffff:1.2.3.256", "::ffff:01.2.3.4", "1.2.3.4::", "fe80::1%", "fe80::1%a b"
  ])("refuses %j", (text) => {
    expect(parseIp(text)).toBeUndefined()
  })

  it("agrees with Node's isIP on which texts are addresses, and with the URL parser on the text of IPv6 ones", () => {
    const random = makeRandom(17)
    const alphabet = "0123456789abcdefABCDEF::::....x "
    const pick = (s: string) => s[Math.floor(random() * s.length)]!
    let addresses = 0
    for (let i = 0; i < 60_000; i++) {
      let text: string
      if (i % 3 === 0) {
        // Mostly valid shapes: eight groups, some zero, then a random run compressed, sometimes an IPv4 tail.
        const groups = Array.from({ length: 8 }, () => (random() < 0.4 ? "0" : Math.floor(random() * 65536).toString(16)))
        const from = Math.floor(random() * 8)
        const to = Math.min(8, from + Math.floor(random() * 4))
        text = to > from && random() < 0.7 ? `${groups.slice(0, from).join(":")}::${groups.slice(to).join(":")}` : groups.join(":")
        if (random() < 0.2) text = text.replace(/[0-9a-f]+:[0-9a-f]+$/, `${Math.floor(random() * 300)}.${Math.floor(random() * 256)}.1.2`)
      } else if (i % 3 === 1) {
        text = Array.from({ length: 3 + Math.floor(random() * 3) }, () => String(Math.floor(random() * 300)).padStart(random() < 0.1 ? 3 : 1, "0")).join(".")
      } else {
        text = Array.from({ length: Math.floor(random() * 20) }, () => pick(alphabet)).join("")
      }
      const ip = parseIp(text)
      expect([text, ip === undefined ? 0 : text.includes(":") ? 6 : 4]).toEqual([text, isIP(text)])
      if (ip?.version === 6) {
        expect(canonicalIp(text)).toBe(new URL(`http://[${text}]`).hostname.slice(1, -1))
        addresses++
      }
    }
    expect(addresses).toBeGreaterThan(5_000)
  })
})

describe("networkOf", () => {
  it.each([
    ["203.0.113.7", 24, "203.0.113.0/24"],
    ["203.0.113.7", 16, "203.0.0.0/16"],
    ["255.255.255.255", 24, "255.255.255.0/24"],
    ["2001:db8:85a3::8a2e:370:7334", 48, "2001:db8:85a3::/48"],
    ["2001:db8:85a3:ffff::1", 52, "2001:db8:85a3:f000::/52"],
    ["2001:0:85a3::1", 48, "2001:0:85a3::/48"],
    ["::1", 48, "::/48"]
  ])("keeps the first bits of %s: /%d is %s", (text, prefix, network) => {
    const ip = parseIp(text)!
    expect(networkOf(ip, prefix, prefix)).toBe(network)
  })
})
