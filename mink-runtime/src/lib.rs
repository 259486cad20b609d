//! The runtime of mink: the event model, the [`EventStore`] trait and its
//! adapters, aggregates, commands, the command bus and the [`Mink`] entry
//! point.
//!
//! Applications depend on the `mink` facade crate, which re-exports this
//! crate together with the macros.
//!
//! The modules are layers; each imports only those listed before it:
//!
//! | layer | holds |
//! | --- | --- |
//! | [`error`], [`event`] | the vocabulary: events, positions, expected versions, errors, serializers |
//! | [`observability`] | the trace context carried in event metadata |
//! | [`store`] | the [`EventStore`] trait, the unit of work, idempotency records, projection checkpoints and leases, log wake-ups, rules every adapter applies |
//! | [`read_model`] | read models: the `ReadModel` trait, typed field handles, queries, the repository |
//! | [`aggregate`] | aggregates and their event types |
//! | [`command`] | commands, handlers, routing, context, validation, outcomes |
//! | [`subscription`] | reading the log as it grows: catch-up, then live |
//! | [`projection`] | projections and the engine that runs them |
//! | [`outbox`] | messages written with the events, relayed to publishers |
//! | [`bus`] | the command bus and its middleware |
//! | [`saga`] | sagas: state that reacts to events by sending commands |
//! | [`app`] | [`Mink`] and its builder |
//! | [`adapters`] | everything one database stores, with its SQL and migrations |
//! | `testing` (feature `testing`) | fixtures for tests; nothing imports it |

pub mod adapters;
pub mod aggregate;
pub mod app;
pub mod bus;
pub mod command;
pub mod event;
pub use event::error;
pub mod observability;
pub mod outbox;
pub mod projection;
pub mod read_model;
pub mod saga;
pub mod store;
pub mod subscription;
#[cfg(feature = "testing")]
pub mod testing;

pub use aggregate::{Aggregate, Event, Tracked};
pub use app::{Mink, MinkBuilder, Registry};
pub use command::{
    Command, CommandError, CommandResult, Context, DispatchError, HandlerContext, HandlerFuture,
    Handles, IdempotencyKey, NoAggregate, PlainHandler, Validate, ValidationErrors, Violation,
};
pub use error::{BoxError, Error, Result};
pub use event::ContentType;
#[cfg(feature = "msgpack")]
pub use event::MessagePackSerializer;
#[cfg(feature = "protobuf")]
pub use event::ProtobufSerializer;
pub use event::{
    EventMetadata, ExpectedVersion, JsonSerializer, NewEvent, Position, RecordedEvent, Serializer,
    category_of, stream_id_for,
};
pub use store::{
    AppendResult, AppendedStream, EventStore, IdempotencyStore, Limits, ReadAll, ReadFilter,
    StoreTransaction, StreamAppend, StreamInfo, UnitOfWork, WrittenEvent,
};

#[doc(hidden)]
pub mod __private {
    //! Used by code the macros generate. Not a public API.
    pub use async_trait::async_trait;
    pub use inventory;
    pub use serde;

    pub use crate::aggregate::EventOf;
    pub use crate::command::Context;
    pub use crate::command::HandlerRegistration;
    pub use crate::command::{CommandFor, CommandRoute, HandlerOutput, PlainOutput};
    pub use crate::event::EventRegistration;
    pub use crate::projection::ProjectionRegistration;
    pub use crate::read_model::__private as read_model;
    pub use crate::saga::SagaRegistration;
    pub use crate::saga::macro_support::{
        SagaCompensates, SagaHandlerError, SagaHandles, decode_done_command, decode_saga_command,
        unknown_saga_command,
    };
    pub use crate::saga::{
        Association, OutgoingCommand, Routed, Saga, SagaContext, SagaDispatchFuture, SagaExecutor,
    };

    /// Checks, in generated projection code, that a handler's parameter is
    /// an event type.
    #[inline(always)]
    pub fn assert_projection_event<E: crate::Event>() {}

    pub use crate::event::ContentType;
    #[cfg(feature = "protobuf")]
    pub use crate::event::ProtobufSerializer;
    pub use crate::event::{JsonSerializer, RecordedEvent};
    pub use crate::projection::{
        HandlerError, PoisonPolicy, Projection, ProjectionContext, ProjectionKind,
        ProjectionOptions,
    };

    /// The future of a generated `Projection::handle` or `reset`: the type
    /// `#[async_trait]` gives those methods, spelled with full paths so
    /// expansions do not lean on the user's `Box`.
    pub type ProjectionFuture<'a> = std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<(), crate::projection::HandlerError>>
                + Send
                + 'a,
        >,
    >;

    /// Marks that a projection has a handler for event type `E`.
    /// `#[projection]` implements it once per handler, so two handlers of
    /// one event type conflict even when their types are spelled through
    /// different paths or aliases.
    pub trait ProjectionHandles<E> {}

    /// The failure for an event whose type none of a projection's handlers
    /// takes (the engine passes only the types the projection lists, so this
    /// means a caller passed a foreign event).
    pub fn unhandled_projection_event(
        event: &crate::RecordedEvent,
    ) -> crate::projection::HandlerError {
        crate::projection::HandlerError::undecodable(crate::Error::UnknownEventType {
            event_type: event.event_type.clone(),
            stream: event.stream_id.clone(),
            version: event.version,
        })
    }

    /// What a `#[projection]` handler or reset method may return: `()` for
    /// one that cannot fail, or `Result<(), E>` with an error convertible
    /// into [`crate::BoxError`], classified by
    /// [`HandlerError::classify`](crate::projection::HandlerError::classify).
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not a projection handler's return type",
        label = "a #[projection] method returns `Result<(), E>` or `()`",
        note = "return `Result<(), E>` where `E: Into<mink::BoxError>` (any `std::error::Error + Send + Sync + 'static`); wrap a failure that may pass by itself in `mink::projection::Transient`"
    )]
    pub trait ProjectionOutput {
        /// The outcome as the engine sees it.
        fn into_handler_result(self) -> Result<(), crate::projection::HandlerError>;
    }
    impl ProjectionOutput for () {
        fn into_handler_result(self) -> Result<(), crate::projection::HandlerError> {
            Ok(())
        }
    }
    impl<E: Into<crate::BoxError>> ProjectionOutput for Result<(), E> {
        fn into_handler_result(self) -> Result<(), crate::projection::HandlerError> {
            self.map_err(|e| crate::projection::HandlerError::classify(e.into()))
        }
    }

    /// Picked when the projection type is `Default`: the builder makes it.
    pub trait MakeViaDefault {
        /// Builds the projection.
        fn __mink_make(&self) -> Option<std::sync::Arc<dyn crate::projection::Projection>>;
    }
    impl<T: crate::projection::Projection + Default> MakeViaDefault
        for &Probe<'_, std::marker::PhantomData<T>>
    {
        fn __mink_make(&self) -> Option<std::sync::Arc<dyn crate::projection::Projection>> {
            Some(std::sync::Arc::new(T::default()))
        }
    }
    /// Picked otherwise: the application passes an instance.
    pub trait MakeViaInstance {
        /// Nothing to build.
        fn __mink_make(&self) -> Option<std::sync::Arc<dyn crate::projection::Projection>>;
    }
    impl<T> MakeViaInstance for Probe<'_, std::marker::PhantomData<T>> {
        fn __mink_make(&self) -> Option<std::sync::Arc<dyn crate::projection::Projection>> {
            None
        }
    }

    /// Checks, in generated handler code, that `C` is a command of `A`.
    #[inline(always)]
    pub fn assert_command_for<C: crate::command::CommandFor<A>, A: crate::Aggregate>() {}

    /// Wraps a command so generated code can find optional trait impls.
    pub struct Probe<'a, T>(pub &'a T);

    /// Picked when the command implements [`crate::Validate`].
    pub trait ValidateViaImpl {
        /// Runs the command's rules.
        fn __mink_validate(&self) -> Result<(), crate::ValidationErrors>;
    }
    impl<T: crate::Validate> ValidateViaImpl for &Probe<'_, T> {
        fn __mink_validate(&self) -> Result<(), crate::ValidationErrors> {
            <T as crate::Validate>::validate(self.0)
        }
    }
    /// Picked otherwise: no rules.
    pub trait ValidateViaDefault {
        /// Accepts the command.
        fn __mink_validate(&self) -> Result<(), crate::ValidationErrors>;
    }
    impl<T> ValidateViaDefault for Probe<'_, T> {
        fn __mink_validate(&self) -> Result<(), crate::ValidationErrors> {
            Ok(())
        }
    }

    /// Picked when the aggregate is `Clone`: the aggregate cache keeps
    /// copies of it.
    pub trait CloneViaImpl<T> {
        /// A copy of the state.
        fn __mink_clone_state(&self) -> Option<T>;
    }
    impl<T: Clone> CloneViaImpl<T> for &Probe<'_, T> {
        fn __mink_clone_state(&self) -> Option<T> {
            Some(self.0.clone())
        }
    }
    /// Picked otherwise: the aggregate is not cached.
    pub trait CloneViaDefault<T> {
        /// No copy.
        fn __mink_clone_state(&self) -> Option<T>;
    }
    impl<T> CloneViaDefault<T> for Probe<'_, T> {
        fn __mink_clone_state(&self) -> Option<T> {
            None
        }
    }

    /// Picked when the command implements [`crate::IdempotencyKey`].
    pub trait KeyViaImpl {
        /// The command's key.
        fn __mink_idempotency_key(&self) -> Option<String>;
    }
    impl<T: crate::IdempotencyKey> KeyViaImpl for &Probe<'_, T> {
        fn __mink_idempotency_key(&self) -> Option<String> {
            <T as crate::IdempotencyKey>::idempotency_key(self.0)
        }
    }
    /// Picked otherwise: no key of its own.
    pub trait KeyViaDefault {
        /// No key.
        fn __mink_idempotency_key(&self) -> Option<String>;
    }
    impl<T> KeyViaDefault for Probe<'_, T> {
        fn __mink_idempotency_key(&self) -> Option<String> {
            None
        }
    }

    pub use serde_json;

    /// Builds the JSON Schema of one event type's payload, in code
    /// `#[event]` generates: either the schema of one payload type (a
    /// struct event, a newtype or tuple variant) or an object of named
    /// fields (a variant with fields). Any part whose type does not
    /// implement `schemars::JsonSchema` leaves the event type without a
    /// schema.
    pub struct EventSchema {
        generator: schemars::SchemaGenerator,
        title: &'static str,
        payload: Option<schemars::Schema>,
        properties: serde_json::Map<String, serde_json::Value>,
        required: Vec<&'static str>,
        missing: bool,
    }

    impl EventSchema {
        /// An empty object schema titled with the event type's name.
        pub fn new(title: &'static str) -> Self {
            EventSchema {
                // Stored payloads are what the decoder reads.
                generator: schemars::generate::SchemaSettings::draft2020_12()
                    .for_deserialize()
                    .into_generator(),
                title,
                payload: None,
                properties: serde_json::Map::new(),
                required: Vec::new(),
                missing: false,
            }
        }

        /// The schema, or `None` when a part of the payload had none.
        pub fn finish(mut self) -> Option<serde_json::Value> {
            if self.missing {
                return None;
            }
            let mut schema = match self.payload.take() {
                Some(payload) => payload.to_value(),
                None => serde_json::json!({
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                    "type": "object",
                    "properties": std::mem::take(&mut self.properties),
                    "required": self.required,
                }),
            };
            let definitions = self.generator.take_definitions(true);
            if let serde_json::Value::Object(map) = &mut schema {
                map.insert("title".to_owned(), self.title.into());
                if !definitions.is_empty() {
                    map.insert("$defs".to_owned(), definitions.into());
                }
            }
            Some(schema)
        }
    }

    /// Picked when the probed type implements `schemars::JsonSchema`.
    pub trait SchemaViaImpl {
        /// The whole payload is of the probed type.
        fn __mink_payload(&self, schema: &mut EventSchema);
        /// A named field of the payload is of the probed type.
        fn __mink_field(&self, schema: &mut EventSchema, key: &'static str, required: bool);
    }
    impl<T: schemars::JsonSchema> SchemaViaImpl for &Probe<'_, std::marker::PhantomData<T>> {
        fn __mink_payload(&self, schema: &mut EventSchema) {
            schema.payload = Some(schema.generator.root_schema_for::<T>());
        }
        fn __mink_field(&self, schema: &mut EventSchema, key: &'static str, required: bool) {
            let field = schema.generator.subschema_for::<T>();
            schema.properties.insert(key.to_owned(), field.to_value());
            if required {
                schema.required.push(key);
            }
        }
    }
    /// Picked otherwise: the event type has no schema.
    pub trait SchemaViaDefault {
        /// Marks the schema missing.
        fn __mink_payload(&self, schema: &mut EventSchema);
        /// Marks the schema missing.
        fn __mink_field(&self, schema: &mut EventSchema, key: &'static str, required: bool);
    }
    impl<T> SchemaViaDefault for Probe<'_, std::marker::PhantomData<T>> {
        fn __mink_payload(&self, schema: &mut EventSchema) {
            schema.missing = true;
        }
        fn __mink_field(&self, schema: &mut EventSchema, _key: &'static str, _required: bool) {
            schema.missing = true;
        }
    }

    /// Parses an aggregate id from text for `#[derive(Aggregate)]`.
    pub fn parse_id<T>(id: &str) -> crate::Result<T>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        id.parse::<T>()
            .map_err(|e| crate::Error::invalid("aggregate_id", format!("`{id}`: {e}")))
    }
}
