import type { DynamicModule } from '@nestjs/common';

/**
 * One configured instance of a module per options module: every importer of
 * `SessionsModule.register(options)` must get the very same dynamic module, so that
 * Nest makes one SessionsModule (one session store, one cache) and not one per import.
 */
export function registerOnce(
  registry: WeakMap<DynamicModule, DynamicModule>,
  options: DynamicModule,
  make: () => DynamicModule,
): DynamicModule {
  let module = registry.get(options);
  if (!module) {
    module = make();
    registry.set(options, module);
  }
  return module;
}
