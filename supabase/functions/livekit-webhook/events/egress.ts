/**
 * `egress_started`, `egress_updated`, `egress_ended`: the recording of the egress is created
 * or moved forward, in whatever order the reports arrive (`private.apply_egress_report`).
 */
import { type EgressJson, readEgress, reportJson } from "../../../../shared/egress.ts";
import type { EventHandler } from "./types.ts";

export const egressReport: EventHandler = async (event, context) => {
  const info = event.egressInfo as EgressJson | undefined;
  if (!info) return await context.ignore("ignored: no egress info");
  const report = readEgress(info, { bucket: context.recording?.bucket });
  return await context.apply(reportJson(report));
};
