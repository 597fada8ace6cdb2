/**
 * The one error of the local development stack (`sluice stack up|down|status`): a one-line message
 * that names what failed and where to look, with the foreign error kept as `cause`.
 */
import { Schema } from "effect"

/**
 * A step of the local stack failed (Maven, the storage format, the broker start or stop…).
 *
 * @category errors
 */
export class StackError extends Schema.TaggedError<StackError>()("StackError", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}
