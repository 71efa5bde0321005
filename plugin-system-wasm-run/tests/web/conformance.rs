//! The engine conformance suite (`tests/it`) on the web engine: its modules
//! are read from there unchanged, and each test they name runs here as
//! `conformance::<module>::web::<name>`, but for those `web_case!` lists with
//! the reason the web engine differs.

#[path = "../it/bounds.rs"]
mod bounds;
#[path = "../it/calls.rs"]
mod calls;
#[path = "../it/hostile.rs"]
mod hostile;
#[path = "../it/imports.rs"]
mod imports;
#[path = "../it/instance.rs"]
mod instance;
#[path = "../it/limits.rs"]
mod limits;
#[path = "../it/module.rs"]
mod module;
#[path = "../it/precompile.rs"]
mod precompile;
#[path = "../it/reftypes.rs"]
mod reftypes;
#[path = "../it/store.rs"]
mod store;

/// One test of the suite on the web engine. The arms before the last name
/// the tests whose expectations do not hold in a browser, and why; they are
/// compiled (so they stay in step with the suite) but not run.
#[macro_export]
macro_rules! web_case {
    // Deadlines and timeouts: nothing interrupts a call on the page's thread, so the
    // web engine refuses them (`timeout`, `set_deadline`, `InstanceLimits::timeout`).
    (time_in_host_functions_counts_against_the_deadline) => {
        $crate::web_case!(@differs time_in_host_functions_counts_against_the_deadline);
    };
    (host_work_counts_against_fuel) => {
        $crate::web_case!(@differs host_work_counts_against_fuel);
    };
    (a_zero_timeout_fails_every_call_alike) => {
        $crate::web_case!(@differs a_zero_timeout_fails_every_call_alike);
    };
    (a_shared_deadline_ends_a_run_of_calls) => {
        $crate::web_case!(@differs a_shared_deadline_ends_a_run_of_calls);
    };
    (reserved_export_names_are_refused) => {
        $crate::web_case!(@differs reserved_export_names_are_refused);
    };
    (the_start_function_runs_under_the_deadline) => {
        $crate::web_case!(@differs the_start_function_runs_under_the_deadline);
    };
    (host_errors_keep_the_function_name_on_both_call_paths) => {
        $crate::web_case!(@differs host_errors_keep_the_function_name_on_both_call_paths);
    };
    (functions_translated_lazily_under_a_deadline_run) => {
        $crate::web_case!(@differs functions_translated_lazily_under_a_deadline_run);
    };
    (fuel_accounting_across_deadline_slices_is_exact) => {
        $crate::web_case!(@differs fuel_accounting_across_deadline_slices_is_exact);
    };
    (deadline_stops_an_endless_loop) => {
        $crate::web_case!(@differs deadline_stops_an_endless_loop);
    };
    (an_instance_deadline_is_the_tighter_one_and_covers_the_start_function) => {
        $crate::web_case!(@differs an_instance_deadline_is_the_tighter_one_and_covers_the_start_function);
    };
    (a_timeout_in_one_instance_never_stops_another) => {
        $crate::web_case!(@differs a_timeout_in_one_instance_never_stops_another);
    };
    (a_deadline_stops_an_endless_loop) => {
        $crate::web_case!(@differs a_deadline_stops_an_endless_loop);
    };
    (a_deadline_covers_the_start_function) => {
        $crate::web_case!(@differs a_deadline_covers_the_start_function);
    };
    (a_deadline_combines_with_fuel) => {
        $crate::web_case!(@differs a_deadline_combines_with_fuel);
    };
    // Its second half runs under a timeout.
    (host_functions_see_the_memory_of_the_called_instance) => {
        $crate::web_case!(@differs host_functions_see_the_memory_of_the_called_instance);
    };
    // WASI is not served on the web engine.
    (blocking_wasi_sleeps_end_at_the_deadline) => {
        $crate::web_case!(@differs blocking_wasi_sleeps_end_at_the_deadline);
    };
    (a_guest_cannot_hold_more_descriptors_than_its_cap) => {
        $crate::web_case!(@differs a_guest_cannot_hold_more_descriptors_than_its_cap);
    };
    // `max_stack_depth` is refused: the browser's stack depth is its own (its
    // overflow is still `StackOverflow`: tests/web/calls.rs).
    (recursion_past_the_depth_limit_is_a_stack_overflow) => {
        $crate::web_case!(@differs recursion_past_the_depth_limit_is_a_stack_overflow);
    };
    (unbounded_recursion_is_a_stack_overflow) => {
        $crate::web_case!(@differs unbounded_recursion_is_a_stack_overflow);
    };
    (stack_depth_limit_allows_what_fits) => {
        $crate::web_case!(@differs stack_depth_limit_allows_what_fits);
    };
    (stack_depth_is_clamped_the_same_way) => {
        $crate::web_case!(@differs stack_depth_is_clamped_the_same_way);
    };
    // A cap is compiled into a browser module: `set_memory_limit` cannot lift or
    // lower it on a live instance.
    (an_instance_memory_cap_tightens_the_runtime_limit) => {
        $crate::web_case!(@differs an_instance_memory_cap_tightens_the_runtime_limit);
    };
    // Values the JS API does not carry: a `v128`, NaN payloads (a NaN through a
    // JS Number may come back canonical).
    (every_value_type_round_trips) => {
        $crate::web_case!(@differs every_value_type_round_trips);
    };
    (values_cross_bit_exact) => {
        $crate::web_case!(@differs values_cross_bit_exact);
    };
    // Proposals the web engine does not accept (GC, exceptions, typed function
    // references): the tests load modules that use them.
    (gc_types_are_told_apart) => {
        $crate::web_case!(@differs gc_types_are_told_apart);
    };
    (exception_and_typed_function_types_are_told_apart) => {
        $crate::web_case!(@differs exception_and_typed_function_types_are_told_apart);
    };
    // A host function that panics aborts the page's module (`panic = "abort"` on
    // wasm32): no `catch_unwind`.
    (host_errors_and_panics_stop_the_guest_only) => {
        $crate::web_case!(@differs host_errors_and_panics_stop_the_guest_only);
    };
    // What `supported_features` reports: no deadlines.
    (reports_features_and_identity) => {
        $crate::web_case!(@differs reports_features_and_identity);
    };
    // Files: a page has none.
    (loads_from_files) => {
        $crate::web_case!(@differs loads_from_files);
    };
    // Measured by the process's resident memory (`/proc/self/statm`), which a page
    // cannot read; the caps themselves are tested in tests/web/limits.rs.
    (one_table_grow_of_two_billion_elements_returns_minus_one) => {
        $crate::web_case!(@differs one_table_grow_of_two_billion_elements_returns_minus_one);
    };
    (a_huge_declared_memory_is_refused_before_it_is_committed) => {
        $crate::web_case!(@differs a_huge_declared_memory_is_refused_before_it_is_committed);
    };
    // Expectations named per native engine (wasmi's limits and defects, another
    // engine built in), which have no web counterpart.
    (an_engine_limit_is_a_module_limit) => {
        $crate::web_case!(@differs an_engine_limit_is_a_module_limit);
    };
    (a_lane_store_wasmi_runs_wrongly_never_reaches_it) => {
        $crate::web_case!(@differs a_lane_store_wasmi_runs_wrongly_never_reaches_it);
    };
    (refuses_modules_of_another_engine) => {
        $crate::web_case!(@differs refuses_modules_of_another_engine);
    };
    (@differs $name:ident) => {
        #[allow(dead_code, reason = "differs on the web engine: see web_case!")]
        const _: fn(plugin_system_wasm_run::EngineKind) = super::$name;
    };
    ($name:ident) => {
        #[wasm_bindgen_test::wasm_bindgen_test]
        fn $name() {
            super::$name(plugin_system_wasm_run::EngineKind::Web)
        }
    };
}

/// One test of the suite on wasmi compiled into the page (feature `wasmi`):
/// the native expectations hold there, deadlines included (on the page's
/// clock), but for what a page lacks, listed by reason in the arms before the
/// last; they are compiled but not run.
#[macro_export]
macro_rules! wasmi_case {
    // No threads in a page, nor `thread::sleep` (the slow host function's).
    (a_timeout_in_one_instance_never_stops_another) => {
        $crate::wasmi_case!(@differs a_timeout_in_one_instance_never_stops_another);
    };
    (time_in_host_functions_counts_against_the_deadline) => {
        $crate::wasmi_case!(@differs time_in_host_functions_counts_against_the_deadline);
    };
    // A host function that panics aborts the page's module (`panic = "abort"`).
    (host_errors_and_panics_stop_the_guest_only) => {
        $crate::wasmi_case!(@differs host_errors_and_panics_stop_the_guest_only);
    };
    // WASI is not built for a page.
    (blocking_wasi_sleeps_end_at_the_deadline) => {
        $crate::wasmi_case!(@differs blocking_wasi_sleeps_end_at_the_deadline);
    };
    (a_guest_cannot_hold_more_descriptors_than_its_cap) => {
        $crate::wasmi_case!(@differs a_guest_cannot_hold_more_descriptors_than_its_cap);
    };
    // Files, and the process's resident memory (`/proc/self/statm`): a page has
    // neither.
    (loads_from_files) => {
        $crate::wasmi_case!(@differs loads_from_files);
    };
    (one_table_grow_of_two_billion_elements_returns_minus_one) => {
        $crate::wasmi_case!(@differs one_table_grow_of_two_billion_elements_returns_minus_one);
    };
    (a_huge_declared_memory_is_refused_before_it_is_committed) => {
        $crate::wasmi_case!(@differs a_huge_declared_memory_is_refused_before_it_is_committed);
    };
    // wasmtime is not built for a page.
    (refuses_modules_of_another_engine) => {
        $crate::wasmi_case!(@differs refuses_modules_of_another_engine);
    };
    (@differs $name:ident) => {
        #[allow(dead_code, reason = "differs on wasmi in a page: see wasmi_case!")]
        const _: fn(plugin_system_wasm_run::EngineKind) = super::$name;
    };
    ($name:ident) => {
        #[wasm_bindgen_test::wasm_bindgen_test]
        fn $name() {
            super::$name(plugin_system_wasm_run::EngineKind::Wasmi)
        }
    };
}
