/**
 * A TCP proxy in front of a real server (MySQL here), that a test can stop (new connections
 * refused, open ones cut), start again on the same port, or use to cut every open connection:
 * a server restart or a network cut, without touching the server other tests share.
 */
import { createServer, type Server, type Socket, connect } from "node:net"

export interface TcpProxy {
  readonly port: number
  /** Refuses new connections and cuts the open ones, as a stopped server does. */
  readonly stop: () => Promise<void>
  /** Accepts connections again, on the same port. */
  readonly start: () => Promise<void>
  /** Cuts every open connection (a connection lost mid-transaction). */
  readonly cutAll: () => number
  readonly close: () => Promise<void>
}

export const startTcpProxy = async (targetHost: string, targetPort: number): Promise<TcpProxy> => {
  const sockets = new Set<Socket>()
  const makeServer = () =>
    createServer((client) => {
      const upstream = connect(targetPort, targetHost)
      sockets.add(client)
      sockets.add(upstream)
      const end = () => {
        client.destroy()
        upstream.destroy()
        sockets.delete(client)
        sockets.delete(upstream)
      }
      client.on("error", end).on("close", end)
      upstream.on("error", end).on("close", end)
      client.pipe(upstream)
      upstream.pipe(client)
    })
  let server: Server | undefined = makeServer()
  const listen = (s: Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      s.once("error", reject)
      s.listen(port, "127.0.0.1", () => {
        const address = s.address()
        resolve(typeof address === "object" && address !== null ? address.port : port)
      })
    })
  const port = await listen(server, 0)
  const cutAll = () => {
    const n = sockets.size
    for (const s of sockets) s.destroy()
    sockets.clear()
    return n
  }
  const stop = async () => {
    const s = server
    server = undefined
    cutAll()
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()))
  }
  return {
    port,
    stop,
    start: async () => {
      if (server) return
      server = makeServer()
      await listen(server, port)
    },
    cutAll,
    close: stop
  }
}
