// task.create / destroy / cancel (the generic getters come from class-methods.ts). A task made
// by task.create is what the xen-api client passes to HTTP handlers as task_id.
import type { MethodRegistry } from '../method-registry.js';

export function registerTaskMethods(registry: MethodRegistry): void {
  registry.define('task.create', {
    params: 2,
    run: ({ tasks }, [label, description]) => tasks.create(String(label), String(description)),
  });
  registry.define('task.destroy', { params: 1, run: ({ tasks }, [ref]) => tasks.destroy(String(ref)) });
  registry.define('task.cancel', { params: 1, run: ({ tasks }, [ref]) => tasks.cancel(String(ref)) });
}
