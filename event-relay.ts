// The stream the wrapper returns to pi. While an account is being tried, events are queued
// (the wrapper decides what to pass on); once the answer has started, the consumer reads the
// inner provider's iterator directly, so streaming costs one function call per event instead
// of a second queue and promise chain. pi only needs async iteration and `result()`.
import type { AssistantMessage, AssistantMessageEvent } from "@mariozechner/pi-ai";

type Transform = (event: AssistantMessageEvent) => AssistantMessageEvent;

function finalMessageOf(event: AssistantMessageEvent): AssistantMessage | undefined {
	if (event.type === "done") return event.message;
	if (event.type === "error") return event.error;
	return undefined;
}

export class EventRelay implements AsyncIterable<AssistantMessageEvent> {
	private readonly queue: AssistantMessageEvent[] = [];
	private waiting?: (result: IteratorResult<AssistantMessageEvent>) => void;
	private source?: AsyncIterator<AssistantMessageEvent>;
	/** The source, when its events go to the consumer untouched. */
	private passThrough?: AsyncIterator<AssistantMessageEvent>;
	private transform?: Transform;
	private onSourceEnd?: () => void;
	private ended = false;
	private finalMessage?: AssistantMessage;
	private settled = false;
	private resolveResult!: (message: AssistantMessage) => void;
	private readonly resultPromise = new Promise<AssistantMessage>((resolve) => {
		this.resolveResult = resolve;
	});

	/** `fallback` is the result when the stream ends without a final message. */
	constructor(private readonly fallback: () => AssistantMessage) {}

	/** Queues an event decided by the wrapper (before the hand-over). */
	push(event: AssistantMessageEvent): void {
		this.track(event);
		const waiting = this.waiting;
		if (waiting) {
			this.waiting = undefined;
			waiting({ value: event, done: false });
			return;
		}
		this.queue.push(event);
	}

	/**
	 * From now on the rest of the answer comes straight from `source`. Without a `transform`
	 * the consumer gets the source's own iteration results, untouched (no extra promise per
	 * event), and the result is the source stream's own.
	 */
	handOver(
		source: AsyncIterator<AssistantMessageEvent>,
		sourceResult: Promise<AssistantMessage>,
		transform: Transform | undefined,
		onEnd: () => void,
	): void {
		this.source = source;
		this.transform = transform;
		this.onSourceEnd = onEnd;
		if (!transform) {
			this.passThrough = source;
			void sourceResult.then(
				(message) => {
					this.finalMessage = message;
					this.finish();
				},
				() => this.finish(),
			);
		}
		const waiting = this.waiting;
		if (waiting && this.queue.length === 0) {
			this.waiting = undefined;
			void this.pull().then(waiting);
		}
	}

	/** No more events (ignored once handed over: the source ends the stream then). */
	end(): void {
		if (this.source || this.ended) return;
		this.ended = true;
		this.finish();
		const waiting = this.waiting;
		this.waiting = undefined;
		waiting?.({ value: undefined, done: true });
	}

	result(): Promise<AssistantMessage> {
		return this.resultPromise;
	}

	[Symbol.asyncIterator](): AsyncIterator<AssistantMessageEvent> {
		// Once handed over without a transform, each event costs one call into the source.
		return {
			next: () =>
				this.passThrough !== undefined && this.queue.length === 0
					? this.passThrough.next()
					: this.next(),
		};
	}

	private next(): Promise<IteratorResult<AssistantMessageEvent>> {
		const queued = this.queue.shift();
		if (queued) return Promise.resolve({ value: queued, done: false });
		if (this.source) return this.pull();
		if (this.ended) return Promise.resolve({ value: undefined, done: true });
		return new Promise((resolve) => {
			this.waiting = resolve;
		});
	}

	private pull(): Promise<IteratorResult<AssistantMessageEvent>> {
		const source = this.source as AsyncIterator<AssistantMessageEvent>;
		const transform = this.transform;
		if (!transform) return source.next();
		return source.next().then(
			(result) => {
				if (result.done) {
					this.finish();
					return result;
				}
				const event = transform(result.value);
				this.track(event);
				return { value: event, done: false };
			},
			(error: unknown) => {
				this.finish();
				throw error;
			},
		);
	}

	/** Like pi-ai's EventStream, the result is known as soon as the final event passes. */
	private track(event: AssistantMessageEvent): void {
		const message = finalMessageOf(event);
		if (!message) return;
		this.finalMessage = message;
		this.finish();
	}

	private finish(): void {
		const onEnd = this.onSourceEnd;
		this.onSourceEnd = undefined;
		onEnd?.();
		if (this.settled) return;
		this.settled = true;
		this.resolveResult(this.finalMessage ?? this.fallback());
	}
}
