// The relay the stream wrapper returns: queued events first, then the inner stream directly,
// and a result that is known as soon as the final event passes (pi awaits it at `done`).
import {
	type AssistantMessage,
	type AssistantMessageEvent,
	createAssistantMessageEventStream,
} from "@mariozechner/pi-ai";
import { describe, expect, it } from "vitest";
import { EventRelay } from "../event-relay.ts";
import { createAssistantMessage } from "../provider-utils.ts";

function message(text: string, provider = "openai-codex"): AssistantMessage {
	const model = { api: "openai-codex-responses" as const, provider, id: "m" };
	return createAssistantMessage(model, { content: [{ type: "text", text }], timestamp: 0 });
}

const fallback = () => ({ ...message("fallback"), stopReason: "error" as const });

async function collect(relay: EventRelay): Promise<AssistantMessageEvent["type"][]> {
	const types: AssistantMessageEvent["type"][] = [];
	for await (const event of relay) types.push(event.type);
	return types;
}

describe("EventRelay", () => {
	it("passes queued events, then the inner stream untouched, and its result", async () => {
		const inner = createAssistantMessageEventStream();
		const relay = new EventRelay(fallback);
		const partial = message("");
		relay.push({ type: "start", partial });
		relay.push({ type: "text_start", contentIndex: 0, partial });
		const iterator = inner[Symbol.asyncIterator]();
		let ended = false;
		relay.handOver(iterator, inner.result(), undefined, () => {
			ended = true;
		});
		const consumed = collect(relay);
		inner.push({ type: "text_delta", contentIndex: 0, delta: "hi", partial });
		const final = message("hi");
		inner.push({ type: "done", reason: "stop", message: final });
		inner.end();
		expect(await consumed).toEqual(["start", "text_start", "text_delta", "done"]);
		expect(await relay.result()).toBe(final);
		expect(ended).toBe(true);
	});

	it("knows the result at the final event, before the consumer asks for more", async () => {
		const relay = new EventRelay(fallback);
		const final = message("done early");
		relay.push({ type: "done", reason: "stop", message: final });
		const first = await relay[Symbol.asyncIterator]().next();
		expect(first.value?.type).toBe("done");
		expect(await relay.result()).toBe(final);
	});

	it("rewrites events through a transform and tracks the result from them", async () => {
		const inner = createAssistantMessageEventStream();
		const relay = new EventRelay(fallback);
		const rename = (event: AssistantMessageEvent): AssistantMessageEvent =>
			event.type === "done"
				? { ...event, message: { ...event.message, provider: "caller" } }
				: event;
		relay.handOver(inner[Symbol.asyncIterator](), inner.result(), rename, () => {});
		inner.push({ type: "done", reason: "stop", message: message("x") });
		inner.end();
		expect(await collect(relay)).toEqual(["done"]);
		expect((await relay.result()).provider).toBe("caller");
	});

	it("ends with the fallback result when no final event came", async () => {
		const relay = new EventRelay(fallback);
		relay.end();
		expect(await collect(relay)).toEqual([]);
		expect((await relay.result()).content).toEqual([{ type: "text", text: "fallback" }]);
	});
});
