//! The contract every [`EventStore`] adapter passes, written once against
//! `Arc<dyn EventStore>`. An adapter is done when the whole suite passes.
//!
//! # Instantiating it
//!
//! Write an async factory that returns a **fresh, empty** store enforcing
//! the given [`Limits`], or `None` when the adapter cannot run here (no
//! database server configured, say), then expand the suite in a test
//! module:
//!
//! ```ignore
//! async fn memory_store(limits: mink::Limits) -> Option<Arc<dyn mink::EventStore>> {
//!     Some(Arc::new(mink::InMemoryStore::with_limits(limits)))
//! }
//!
//! mink_tests::conformance_suite!(memory_store);
//! ```
//!
//! The macro takes one path to an `async fn(Limits) -> Option<Arc<dyn
//! EventStore>>` (its future must be `Send + 'static`). It expands to one
//! `#[tokio::test(flavor = "multi_thread", worker_threads = 4)]` per case,
//! named after the case, each of which:
//!
//! 1. calls the factory with [`Limits::default()`]; on `None` it prints
//!    `skipped: <case> (store unavailable)` and returns;
//! 2. otherwise runs the `pub async fn <case>(Harness)` of this module.
//!    Each case lives in the submodule of its concern and is re-exported
//!    here, so `mink_tests::conformance::<case>` names it.
//!
//! A case may ask the [`Harness`] for more fresh stores (with other limits);
//! the factory is then called again and must not return `None`. The crate
//! using the macro needs `tokio` with the `macros` and `rt-multi-thread`
//! features. To keep a resource (a temp dir, a database schema) alive as
//! long as a store, wrap the store with [`keep_alive`].
//!
//! # What the suite assumes beyond the trait's documentation
//!
//! - Payloads are bytes: a store returns exactly what it was given
//!   ([`binary_payload_round_trips`]). JSON payloads are compared as JSON
//!   values, so a store may normalize their spelling.
//! - Within one append call, events enter the global log in request order:
//!   stream by stream, event by event.
//! - Positions strictly increase along the log; they need not be
//!   contiguous.
//!
//! # Where the cases live
//!
//! - `expected_versions`: every expected version against missing and
//!   existing streams, and appends of no events;
//! - `atomicity`: multi-stream calls that write all or nothing;
//! - `stream_reads`: reading one stream, and its info;
//! - `log_reads`: the global log read after a position, filtered, its
//!   positions and head;
//! - `concurrency`: racing writers on one stream and on many;
//! - `round_trips`: metadata, timestamps and payloads come back as written,
//!   and a payload that no longer decodes is a typed error;
//! - `refusals`: oversized events, bad stream ids and event types;
//! - `reference_model`: random appends against a model store;
//! - `unit_of_work`: work inside the append transaction, repeated event ids
//!   and NUL characters refused alike, reading one's own write;
//! - `projections`: the projection store's leases, checkpoints, rebuild and
//!   pause requests and dead letters;
//! - `wake_ups`: readers of the log woken by appends (on PostgreSQL also
//!   across store instances);
//! - `formats`: MessagePack, Protocol Buffers and a user's format
//!   round-trip with their content types, side by side in one log, each
//!   decoded with its own format.
//!
//! [`EventStore`]: mink::EventStore
//! [`Limits`]: mink::Limits
//! [`Limits::default()`]: mink::Limits::default

mod atomicity;
mod concurrency;
mod expected_versions;
mod formats;
mod harness;
mod log_reads;
mod projections;
mod reference_model;
mod refusals;
mod round_trips;
mod stream_reads;
mod support;
mod unit_of_work;
mod wake_ups;

pub use atomicity::{multi_stream_append_is_atomic, same_stream_twice_is_refused};
pub use concurrency::{racing_writers_many_streams, racing_writers_one_stream};
pub use expected_versions::{appending_zero_events, expected_versions};
pub use formats::{
    HexJson, Price, StockEvent, bad_content_types_are_refused,
    binary_payloads_that_look_like_json_keep_their_bytes, mixed_formats_share_one_log,
    msgpack_payloads_round_trip, protobuf_payloads_round_trip,
};
pub use harness::{Harness, StoreFuture, keep_alive};
pub use log_reads::{
    filter_by_category, filter_by_event_type, filter_by_stream, filter_combined,
    positions_increase_and_head_agrees, read_all_after_position,
};
pub use projections::{
    checkpoint_moves_compare_and_set, dead_letters_commit_with_the_checkpoint,
    desired_state_is_stored, leases_are_exclusive_until_they_expire,
    racing_acquires_have_one_winner, rebuild_requests_start_and_finish,
    renew_and_release_follow_the_lease,
};
pub use reference_model::random_appends_match_reference_model;
pub use refusals::{bad_stream_ids_and_event_types_are_refused, oversized_event_is_refused};
pub use round_trips::{
    binary_payload_round_trips, large_payload_round_trips, metadata_round_trips,
    timestamps_round_trip, undecodable_payload_is_a_typed_error, unicode_stream_ids,
};
pub use stream_reads::{
    missing_stream_reads_empty, read_stream_from_version, stream_info_reports_versions_and_times,
};
pub use unit_of_work::{
    duplicate_event_ids_are_refused, failed_unit_of_work_rolls_back_the_events,
    nul_characters_are_refused_alike, own_write_becomes_visible, racing_units_of_work_land_once,
    unit_of_work_sees_what_the_append_wrote,
};
pub use wake_ups::log_changes_wake_after_an_append;

/// Expands the conformance suite for one adapter; see the [module
/// documentation](crate::conformance) for the factory it takes.
#[macro_export]
macro_rules! conformance_suite {
    ($factory:path) => {
        $crate::conformance_suite!(@cases $factory;
            expected_versions,
            missing_stream_reads_empty,
            read_stream_from_version,
            read_all_after_position,
            filter_by_event_type,
            filter_by_category,
            filter_by_stream,
            filter_combined,
            multi_stream_append_is_atomic,
            same_stream_twice_is_refused,
            racing_writers_one_stream,
            racing_writers_many_streams,
            positions_increase_and_head_agrees,
            metadata_round_trips,
            timestamps_round_trip,
            large_payload_round_trips,
            binary_payload_round_trips,
            unicode_stream_ids,
            oversized_event_is_refused,
            bad_stream_ids_and_event_types_are_refused,
            undecodable_payload_is_a_typed_error,
            appending_zero_events,
            stream_info_reports_versions_and_times,
            random_appends_match_reference_model,
            unit_of_work_sees_what_the_append_wrote,
            failed_unit_of_work_rolls_back_the_events,
            duplicate_event_ids_are_refused,
            nul_characters_are_refused_alike,
            own_write_becomes_visible,
            racing_units_of_work_land_once,
            leases_are_exclusive_until_they_expire,
            checkpoint_moves_compare_and_set,
            renew_and_release_follow_the_lease,
            racing_acquires_have_one_winner,
            desired_state_is_stored,
            rebuild_requests_start_and_finish,
            dead_letters_commit_with_the_checkpoint,
            log_changes_wake_after_an_append,
            msgpack_payloads_round_trip,
            protobuf_payloads_round_trip,
            mixed_formats_share_one_log,
            binary_payloads_that_look_like_json_keep_their_bytes,
            bad_content_types_are_refused,
        );
    };
    (@cases $factory:path; $($case:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let ::core::option::Option::Some(harness) =
                    $crate::conformance::Harness::start($factory).await
                else {
                    $crate::skip(::core::concat!(::core::stringify!($case), " (store unavailable)"));
                    return;
                };
                $crate::conformance::$case(harness).await;
            }
        )+
    };
}
