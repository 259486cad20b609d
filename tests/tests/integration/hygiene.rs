//! Every macro expands inside a module that shadows the prelude names
//! generated code could lean on by accident: if an expansion wrote
//! `Result`, `Some` or `Vec` instead of a full path, this would not compile.

mod shadowed {
    #![allow(dead_code, reason = "the shadowing items exist only to be in the way")]

    use mink::{Aggregate, command, command_handler, event};

    pub struct Result;
    pub struct Ok;
    pub struct Err;
    pub struct Option;
    pub struct Some;
    pub struct None;
    pub struct Vec;
    pub struct String;
    pub struct Box;
    pub struct Default;

    /// A payload carried by a newtype variant.
    #[derive(
        ::core::fmt::Debug,
        ::core::clone::Clone,
        ::core::cmp::PartialEq,
        ::serde::Serialize,
        ::serde::Deserialize,
    )]
    pub struct Reading {
        pub value: u64,
    }

    // Event type names are global to the test binary, hence the prefix.
    #[event]
    #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::cmp::PartialEq)]
    pub enum GaugeEvent {
        #[event(name = "hygiene.Installed")]
        Installed {
            #[serde(rename = "where")]
            location: ::std::string::String,
            #[serde(default)]
            note: ::core::option::Option<::std::boxed::Box<str>>,
        },
        #[event(name = "hygiene.Read")]
        Read(Reading),
        #[event(name = "hygiene.Calibrated", version = 2)]
        Calibrated(u64, i64),
        #[event(name = "hygiene.Reset")]
        Reset,
    }

    #[event(name = "hygiene.Audited", version = 3)]
    #[derive(::core::fmt::Debug)]
    pub struct Audited {
        pub by: ::std::string::String,
    }

    #[derive(Aggregate, ::core::default::Default)]
    #[aggregate(events = GaugeEvent, category = "hygiene_gauge")]
    pub struct Gauge {
        #[aggregate(id)]
        pub id: ::std::string::String,
        pub installed: bool,
        pub last: u64,
        pub offset: i64,
    }

    #[command(aggregate = Gauge)]
    pub struct Install {
        #[command(id)]
        pub gauge_id: ::std::string::String,
        pub location: ::std::string::String,
    }

    #[command(aggregate = Gauge, name = "hygiene.Record")]
    pub struct Record {
        #[command(id)]
        pub gauge_id: ::std::string::String,
        pub value: u64,
    }

    /// The handlers' domain error, written out by hand so that no other
    /// derive's hygiene is under test here.
    #[derive(::core::fmt::Debug)]
    pub struct NotInstalled;

    impl ::core::fmt::Display for NotInstalled {
        fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
            f.write_str("the gauge is not installed")
        }
    }

    impl ::std::error::Error for NotInstalled {}

    #[command_handler]
    impl Gauge {
        fn install(
            &self,
            cmd: Install,
        ) -> ::core::result::Result<::std::vec::Vec<GaugeEvent>, NotInstalled> {
            ::core::result::Result::Ok(::std::vec![
                GaugeEvent::Installed {
                    location: cmd.location,
                    note: ::core::option::Option::None
                },
                GaugeEvent::Calibrated(0, -2),
            ])
        }

        fn record(
            &self,
            cmd: Record,
        ) -> ::core::result::Result<::std::vec::Vec<GaugeEvent>, NotInstalled> {
            if !self.installed {
                return ::core::result::Result::Err(NotInstalled);
            }
            ::core::result::Result::Ok(::std::vec![GaugeEvent::Read(Reading { value: cmd.value })])
        }

        #[command_handler(skip)]
        fn corrected(&self, raw: u64) -> i64 {
            raw as i64 + self.offset
        }

        fn apply(&mut self, event: &GaugeEvent) {
            match event {
                GaugeEvent::Installed { .. } => self.installed = true,
                GaugeEvent::Read(reading) => self.last = reading.value,
                GaugeEvent::Calibrated(_, offset) => self.offset = *offset,
                GaugeEvent::Reset => self.last = 0,
            }
        }
    }

    /// Reads through the skipped helper, so it is used.
    pub fn corrected_last(gauge: &Gauge) -> i64 {
        gauge.corrected(gauge.last)
    }
}

use mink::{InMemoryStore, Mink};
use shadowed::{Gauge, Install, NotInstalled, Record};

#[tokio::test]
async fn macros_expanded_among_shadowed_names_dispatch_and_fold() {
    let app = Mink::builder()
        .store(InMemoryStore::new())
        .build()
        .await
        .expect("build");

    let refused = app
        .dispatch(Record {
            gauge_id: "g1".into(),
            value: 7,
        })
        .await
        .expect_err("not installed yet");
    assert!(matches!(refused.rejected(), Some(NotInstalled)));

    let installed = app
        .dispatch(Install {
            gauge_id: "g1".into(),
            location: "roof".into(),
        })
        .await
        .expect("install");
    assert_eq!(installed.version, Some(2));
    assert_eq!(installed.stream_id.as_deref(), Some("hygiene_gauge-g1"));

    let recorded = app
        .dispatch(Record {
            gauge_id: "g1".into(),
            value: 42,
        })
        .await
        .expect("record");
    assert_eq!(recorded.command, "hygiene.Record");
    assert_eq!(recorded.version, Some(3));

    let gauge = app.load_aggregate::<Gauge>("g1").await.expect("load");
    assert_eq!(gauge.version(), 3);
    assert_eq!(gauge.id, "g1");
    assert!(gauge.installed);
    assert_eq!(gauge.last, 42);
    assert_eq!(shadowed::corrected_last(&gauge), 40);
}

/// A prost message, outside the shadowing module: only mink's expansion is
/// under test.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Calibrated {
    #[prost(uint64, tag = "1")]
    pub offset: u64,
}

mod shadowed_protobuf {
    #![allow(dead_code, reason = "the shadowing items exist only to be in the way")]

    use mink::event;

    pub struct Result;
    pub struct Ok;
    pub struct Option;
    pub struct Some;
    pub struct None;
    pub struct Vec;

    #[event(protobuf)]
    #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::cmp::PartialEq)]
    pub enum ProtoGaugeEvent {
        #[event(name = "hygiene.ProtoCalibrated")]
        Calibrated(super::Calibrated),
        #[event(name = "hygiene.ProtoReset")]
        Reset,
    }
}

#[test]
fn protobuf_events_expand_with_full_paths() {
    use mink::{Event, JsonSerializer};
    use shadowed_protobuf::ProtoGaugeEvent;

    let event = ProtoGaugeEvent::Calibrated(Calibrated { offset: 7 });
    let bytes = event.encode(&JsonSerializer).expect("encodes");
    let back = ProtoGaugeEvent::decode("hygiene.ProtoCalibrated", 1, &bytes, &JsonSerializer)
        .expect("decodes");
    assert_eq!(back, Some(event));
}
