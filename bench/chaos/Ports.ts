/**
 * Free TCP ports on 127.0.0.1 for the servers the harness starts (a private broker, a private
 * MariaDB), chosen once and kept across their restarts.
 */
import { createServer } from "node:net"

/** A port nothing listens on now (the system's choice for port 0). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("no free port"))))
    })
  })
