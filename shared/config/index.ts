export { configSchema, logSchema, tlsSchema, type Config, type TlsConfig } from './schema.js';
export { loadConfigFile, parseConfig, applyEnvOverrides, formatIssues, ENV_PREFIX } from './load-config.js';
