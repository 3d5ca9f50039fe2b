// The lab's whole method table.
import { MethodRegistry } from '../method-registry.js';
import { registerClassMethods } from './class-methods.js';
import { registerDeviceMethods } from './device-methods.js';
import { registerEventMethods } from './event-methods.js';
import { registerNetworkMethods } from './network-methods.js';
import { registerSessionMethods } from './session-methods.js';
import { registerTaskMethods } from './task-methods.js';
import { registerVdiMethods } from './vdi-methods.js';
import { registerVmMethods } from './vm-methods.js';

export function labMethods(): MethodRegistry {
  const registry = new MethodRegistry();
  registerClassMethods(registry);
  registerSessionMethods(registry);
  registerEventMethods(registry);
  registerTaskMethods(registry);
  registerVmMethods(registry);
  registerVdiMethods(registry);
  registerDeviceMethods(registry);
  registerNetworkMethods(registry);
  return registry;
}
