// Network preload for end-to-end tests: `node --import <this file> <pi cli> ...` (Node 20 and 22).
// When MULTICODEX_SIM_URL is set, every fetch/WebSocket to https://chatgpt.com, https://auth.openai.com
// (and wss://chatgpt.com) is rewritten to that origin, keeping path and query. globalThis.fetch and
// globalThis.WebSocket become accessors, so implementations installed later (pi 1.x calls undici's
// install() at start-up) are wrapped too. With MULTICODEX_SIM_BLOCK_OTHER=1 any other non-loopback
// fetch/WebSocket fails fast. pi reaches these hosts only through globalThis.fetch / globalThis.WebSocket
// (1.x: `options.fetch ?? globalThis.fetch`, never set by pi itself); no http/https module calls.

const SIM_URL = process.env.MULTICODEX_SIM_URL;
const BLOCK_OTHER = process.env.MULTICODEX_SIM_BLOCK_OTHER === "1";
const SIM_HOSTS = new Set(["chatgpt.com", "auth.openai.com"]);
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);
const wrapped = new WeakSet();

/** @returns {{ url: string } | { blocked: string }} */
function route(raw) {
	let url;
	try {
		url = new URL(raw);
	} catch {
		return { url: raw };
	}
	const secure = url.protocol === "https:" || url.protocol === "wss:";
	if (secure && SIM_HOSTS.has(url.hostname) && (url.port === "" || url.port === "443")) {
		const target = new URL(SIM_URL);
		const prefix = target.pathname.replace(/\/+$/, "");
		const protocol =
			url.protocol === "wss:" ? (target.protocol === "https:" ? "wss:" : "ws:") : target.protocol;
		return { url: `${protocol}//${target.host}${prefix}${url.pathname}${url.search}` };
	}
	const network = ["http:", "https:", "ws:", "wss:"].includes(url.protocol);
	if (BLOCK_OTHER && network && !LOOPBACK.has(url.hostname)) return { blocked: url.origin };
	return { url: raw };
}

function blockedError(kind, origin) {
	return new TypeError(
		`[network-preload] ${kind} to ${origin} blocked (MULTICODEX_SIM_BLOCK_OTHER=1; tests must stay offline)`,
	);
}

function wrapFetch(original) {
	if (typeof original !== "function" || wrapped.has(original)) return original;
	const proxy = new Proxy(original, {
		apply(target, thisArg, args) {
			const [input, ...rest] = args;
			const isRequest =
				input !== null &&
				typeof input === "object" &&
				!(input instanceof URL) &&
				typeof input.url === "string";
			const raw = isRequest ? input.url : input instanceof URL ? input.href : String(input);
			const result = route(raw);
			if ("blocked" in result) return Promise.reject(blockedError("fetch", result.blocked));
			if (result.url === raw) return Reflect.apply(target, thisArg, args);
			const next = isRequest ? new input.constructor(result.url, input) : result.url;
			return Reflect.apply(target, thisArg, [next, ...rest]);
		},
	});
	wrapped.add(proxy);
	return proxy;
}

function wrapWebSocket(original) {
	if (typeof original !== "function" || wrapped.has(original)) return original;
	const proxy = new Proxy(original, {
		construct(target, args, newTarget) {
			if (args.length > 0) {
				const raw = args[0] instanceof URL ? args[0].href : String(args[0]);
				const result = route(raw);
				if ("blocked" in result) throw blockedError("WebSocket", result.blocked);
				args = [result.url, ...args.slice(1)];
			}
			return Reflect.construct(target, args, newTarget);
		},
	});
	wrapped.add(proxy);
	return proxy;
}

/** Replace globalThis[name] with an accessor that wraps the current and every later value. */
function intercept(name, wrap) {
	const descriptor = Object.getOwnPropertyDescriptor(globalThis, name);
	let current = wrap(
		descriptor
			? "get" in descriptor
				? descriptor.get?.call(globalThis)
				: descriptor.value
			: undefined,
	);
	Object.defineProperty(globalThis, name, {
		configurable: true,
		enumerable: descriptor?.enumerable ?? false,
		get: () => current,
		set: (value) => {
			current = wrap(value);
		},
	});
}

if (SIM_URL) {
	new URL(SIM_URL); // fail loudly on a malformed value
	// pi's undici EnvHttpProxyAgent must never send simulator traffic through a proxy.
	const noProxy = [process.env.NO_PROXY || process.env.no_proxy, "127.0.0.1", "localhost", "::1"]
		.filter(Boolean)
		.join(",");
	process.env.NO_PROXY = noProxy;
	process.env.no_proxy = noProxy;
	intercept("fetch", wrapFetch);
	intercept("WebSocket", wrapWebSocket);
}
