/**
 * The HTTP endpoints an operator uses: the service's `/healthz`, `/readyz`, `/metrics` and
 * dashboard, and `sluice dashboard`, the same page served on its own over the lake.
 */
import { Clock, Effect, type Scope } from "effect"
import type { Metrics } from "./Metrics.ts"
import { dashboardPage } from "./DashboardPage.ts"
import { type FeedAccess, type FiguresLake, readAll, readFigures } from "./Figures.ts"
import { html, HttpError, json, type Routes, type Served, serveHttp, text } from "./Http.ts"
import { liveFrom, parseMetrics } from "./Live.ts"

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

export interface Listen {
  readonly host: string
  readonly port: number
  /** False for the default port: when it is taken, the service runs on without HTTP (with a warning). */
  readonly explicit: boolean
}

export interface LakeView {
  readonly lake: FiguresLake
  readonly topic: string
  /** Which feeds the page may read (a reader's grants, decided at each request); all by default. */
  readonly access?: Effect.Effect<FeedAccess, unknown> | undefined
}

/** The dashboard's routes: the page, its figures as JSON, and the live figures from `metricsText`. */
const dashboardRoutes = (view: LakeView, metricsText: Effect.Effect<string, string>): Routes => {
  const figures = Effect.flatMap(view.access ?? Effect.succeed(readAll), (canRead) => readFigures(view.lake, view.topic, canRead))
  return {
    "/": Effect.map(figures, (f) => html(dashboardPage(f, { live: true }))),
    "/figures.json": Effect.map(figures, (f) => json(200, f)),
    "/live.json": Effect.gen(function*() {
      const at = yield* Clock.currentTimeMillis
      return yield* metricsText.pipe(
        Effect.map((t) => json(200, { available: true, ...liveFrom(parseMetrics(t), at) })),
        Effect.catch((reason) => Effect.succeed(json(200, { available: false, reason })))
      )
    })
  }
}

const listen = (where: Listen, routes: Routes, what: string): Effect.Effect<Served | undefined, HttpError, Scope.Scope> =>
  serveHttp(where.host, where.port, routes).pipe(
    Effect.tap((s) => Effect.logInfo(`http: ${what} on ${s.url}`)),
    Effect.catchIf(
      (e) => !where.explicit && (e.cause as NodeJS.ErrnoException | undefined)?.code === "EADDRINUSE",
      (e) => Effect.logWarning(`${e.message}; running without it`).pipe(Effect.as(undefined))
    )
  )

/** The service's endpoints, until the scope closes. */
export const serveOperations = (where: Listen, metrics: Metrics, view: LakeView | undefined): Effect.Effect<Served | undefined, HttpError, Scope.Scope> => {
  const metricsText = Effect.promise(() => metrics.text())
  const routes: Routes = {
    "/healthz": Effect.succeed(text(200, "ok\n")),
    "/readyz": Effect.sync(() => {
      const r = metrics.readiness()
      return text(r.ready ? 200 : 503, `${r.ready ? "ready" : "not ready"}: ${r.reason}\n`)
    }),
    "/metrics": Effect.map(metricsText, (body) => ({ status: 200, contentType: PROMETHEUS_CONTENT_TYPE, body })),
    ...(view === undefined
      ? { "/": Effect.succeed(text(200, "no lake sink: the dashboard reads the lake (SLUICE_SINKS)\n")) }
      : dashboardRoutes(view, metricsText))
  }
  return listen(where, routes, "/healthz /readyz /metrics and the dashboard at /")
}

/** `sluice dashboard`: the page over the lake, its live section read from a service's `/metrics` at `metricsUrl`. */
export const serveDashboard = (where: Listen, view: LakeView, metricsUrl: string): Effect.Effect<Served | undefined, HttpError, Scope.Scope> => {
  const metricsText = Effect.tryPromise({
    try: async () => {
      const response = await fetch(metricsUrl, { signal: AbortSignal.timeout(2_000) })
      if (!response.ok) throw new Error(`HTTP ${response.status}`)
      return await response.text()
    },
    catch: (e) => `no service's metrics at ${metricsUrl} (${(e as Error).message}); start sluice run, or pass --metrics`
  })
  return listen(where, { ...dashboardRoutes(view, metricsText), "/healthz": Effect.succeed(text(200, "ok\n")) }, "the dashboard")
}
