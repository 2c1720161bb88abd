// Public surface of the package: the extension (default export) and the helpers 2.3.1 exported.
export { AccountManager } from "./account-manager.ts";
export { parseImportedOpenAICodexAuth } from "./auth.ts";
export { default } from "./extension.ts";
export {
	buildMulticodexProviderConfig,
	getOpenAICodexMirror,
	PROVIDER_ID,
	type ProviderModelDef,
} from "./provider.ts";
export { isQuotaErrorMessage } from "./quota.ts";
export { isAccountAvailable, pickBestAccount } from "./selection.ts";
export {
	createUsageStatusController,
	formatActiveAccountStatus,
	isManagedModel,
} from "./status.ts";
export type { Account } from "./storage.ts";
export { createStreamWrapper } from "./stream-wrapper.ts";
export type { CodexUsageSnapshot } from "./usage.ts";
export {
	formatResetAt,
	getMaxUsedPercent,
	getNextResetAt,
	getWeeklyResetAt,
	isUsageUntouched,
	parseCodexUsageResponse,
} from "./usage.ts";
