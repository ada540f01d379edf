/** The built-in IO modules, ready to hand to a data plane. */
import type { ModuleType } from '../src/dataplane/index.js';
import { bridge } from './bridge/index.js';
import { monitor } from './monitor/index.js';
import { router } from './router/index.js';

export { bridge, monitor, router };

/** Every built-in module type. */
export const builtinModules: ModuleType[] = [bridge, router, monitor];
