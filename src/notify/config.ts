// NOTIFY_WEBHOOK_URL and NOTIFY_ON are the `notify` concern of src/config.ts; this names what
// notifications need of it.
import { readConfig, type Config, type Env } from "../config.ts";

export type { NotifyTrigger } from "./triggers.ts";

/** Where notifications go and which runs send one; undefined: no notifications. */
export type NotifyConfig = NonNullable<Config["notify"]>;

/** Undefined when NOTIFY_WEBHOOK_URL is unset. NOTIFY_ON is checked either way. */
export function readNotifyConfig(env: Env): NotifyConfig | undefined {
  return readConfig(env, ["notify"]).notify;
}
