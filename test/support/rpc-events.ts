// Reading what the extension did from pi's RPC event stream: the footer texts it set and which
// simulated account wrote the answers.
import type { RpcEvent } from "./pi-runner.ts";

/** Texts of the `multicodex-usage` footer entries among `events`. */
export function footerTexts(events: RpcEvent[]): string[] {
	return events
		.filter(
			(e) =>
				e.type === "extension_ui_request" &&
				e.method === "setStatus" &&
				e.statusKey === "multicodex-usage" &&
				typeof e.statusText === "string",
		)
		.map((e) => String(e.statusText));
}

/** Whether `event` sets the footer to a text containing `text`. */
export function isFooter(event: RpcEvent, text: string): boolean {
	return footerTexts([event]).some((t) => t.includes(text));
}

/** The account the simulated backend says answered (`Answered by <email>`). */
export function answeredBy(events: RpcEvent[]): string | undefined {
	const text = JSON.stringify(events.filter((e) => e.type === "message_end"));
	return text.match(/Answered by ([\w.@-]+)/)?.[1];
}
