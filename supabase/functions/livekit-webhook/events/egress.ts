/**
 * `egress_started`, `egress_updated`, `egress_ended`: the recording of the egress is created
 * or moved forward, in whatever order the reports arrive (see shared/egress.ts).
 */
import { applyEgressReport, type EgressJson, readEgress } from "../../../../shared/egress.ts";
import type { EventHandler } from "./types.ts";

export const egressReport: EventHandler = async (event, context) => {
  const info = event.egressInfo as EgressJson | undefined;
  if (!info) return "ignored: no egress info";
  const report = readEgress(info, { bucket: context.recording?.bucket });
  const result = await applyEgressReport(
    context.tx,
    context.session,
    report,
    context.now,
  );
  return `recording ${result} (${report.status})`;
};
