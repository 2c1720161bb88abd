// A small seeded PRNG (mulberry32) for reproducible random tests: the same seed gives the same
// sequence on every machine, so a failing case can be replayed from its seed.
export interface Prng {
	/** Uniform in [0, 1). */
	next(): number;
	/** Integer in [min, max]. */
	int(min: number, max: number): number;
	pick<T>(items: readonly T[]): T;
	chance(probability: number): boolean;
}

export function createPrng(seed: number): Prng {
	let state = seed >>> 0;
	const next = () => {
		state = (state + 0x6d2b79f5) >>> 0;
		let t = state;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
	const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
	return {
		next,
		int,
		pick: (items) => {
			if (items.length === 0) throw new Error("pick from an empty list");
			return items[int(0, items.length - 1)] as (typeof items)[number];
		},
		chance: (probability) => next() < probability,
	};
}
