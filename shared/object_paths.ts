/**
 * Object paths in the recordings bucket, checked where they are built (`uploadObjectName` in
 * `shared/recordings.ts`), read (`readEgress` in `shared/egress.ts`) and used
 * (`shared/storage.ts`). A module of its own, without imports, so that the functions that only
 * read egress reports do not take in the storage SDK.
 *
 * @module
 */

/**
 * Whether `name` is a plain object name: no `.` or `..` segment. GCS stores such a name as it
 * is, but anything that normalises paths (an HTTP client, a proxy, a person reading it) resolves
 * it elsewhere, so `recordings/A/S/../../../recordings/B/x` would pass a prefix check for A and
 * mean B's file. The database refuses them too (`recordings_object_path_segments`); `shared/storage.ts`
 * refuses to sign or touch one.
 */
export function isSafeObjectPath(name: string): boolean {
  return name.length > 0 && !name.split("/").some((segment) => segment === "." || segment === "..");
}
