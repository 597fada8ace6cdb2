/**
 * A small HTTP server tied to a scope (it closes when the scope does): GET routes, each an effect
 * that answers with a status, a content type and a body. Health, metrics and the dashboard use it.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Cause, Data, Effect, Exit, type Scope } from "effect"
import { redactSecrets } from "../sinks/warehouse/ConnectionUrl.ts"

export class HttpError extends Data.TaggedError("HttpError")<{
  readonly host: string
  readonly port: number
  readonly cause: unknown
}> {
  override get message(): string {
    const code = (this.cause as NodeJS.ErrnoException | undefined)?.code
    const why = code === "EADDRINUSE"
      ? "the port is in use (another sluice? set SLUICE_HTTP_PORT, or 0 for any free port)"
      : (this.cause as Error | undefined)?.message ?? String(this.cause)
    return `cannot serve HTTP on ${this.host}:${this.port}: ${why}`
  }
}

export interface HttpReply {
  readonly status: number
  readonly contentType: string
  readonly body: string
}

/** GET routes by path. */
export type Routes = Readonly<Record<string, Effect.Effect<HttpReply, unknown>>>

export const text = (status: number, body: string): HttpReply => ({ status, contentType: "text/plain; charset=utf-8", body })
export const json = (status: number, value: unknown): HttpReply => ({ status, contentType: "application/json; charset=utf-8", body: JSON.stringify(value) })
export const html = (body: string): HttpReply => ({ status: 200, contentType: "text/html; charset=utf-8", body })

export interface Served {
  readonly host: string
  /** The port bound (the one asked for, or the one the system chose for 0). */
  readonly port: number
  readonly url: string
}

const answer = (routes: Routes, request: http.IncomingMessage): Promise<HttpReply> => {
  const url = new URL(request.url ?? "/", "http://localhost")
  const route = routes[url.pathname]
  if (request.method !== "GET" && request.method !== "HEAD") return Promise.resolve(text(405, "only GET\n"))
  if (route === undefined) return Promise.resolve(text(404, `no ${url.pathname} here; try ${Object.keys(routes).join(", ")}\n`))
  return Effect.runPromiseExit(route).then((exit) =>
    Exit.isSuccess(exit) ? exit.value : text(500, `${redactSecrets((Cause.squash(exit.cause) as Error | undefined)?.message ?? "failed")}\n`)
  )
}

/** Serves `routes` on `host:port` until the scope closes (then open connections are cut). */
export const serveHttp = (host: string, port: number, routes: Routes): Effect.Effect<Served, HttpError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<http.Server, HttpError>((resume) => {
      const server = http.createServer((request, response) => {
        void answer(routes, request).then((reply) => {
          response.writeHead(reply.status, { "content-type": reply.contentType, "cache-control": "no-store" })
          response.end(request.method === "HEAD" ? undefined : reply.body)
        })
      })
      server.once("error", (cause) => resume(Effect.fail(new HttpError({ host, port, cause }))))
      server.listen(port, host, () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.callback<void>((resume) => {
        server.close(() => resume(Effect.void))
        server.closeAllConnections()
      })
  ).pipe(
    Effect.map((server) => {
      const bound = (server.address() as AddressInfo).port
      return { host, port: bound, url: `http://${host.includes(":") ? `[${host}]` : host}:${bound}` }
    })
  )
