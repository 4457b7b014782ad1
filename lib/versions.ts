import { loadBinding } from './binding';

/** The GStreamer version the addon runs against, e.g. '1.22.0'. Throws if the addon cannot load. */
export function gstreamerVersion(): string {
  const v = loadBinding().gstreamerVersion;
  return `${v.major}.${v.minor}.${v.micro}`;
}
