// Conventional commits (feat:, fix:, test:, …); semantic-release derives versions from them.
export default { extends: ["@commitlint/config-conventional"] };
