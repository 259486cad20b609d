//! Payload formats: MessagePack, Protocol Buffers, JSON and a user's own
//! format round-trip with their content types, live side by side in one
//! log, and each event is decoded with the format it was written in
//! (docs/adr/019-payload-formats.md).

use mink::{
    BoxError, ContentType, Error, Event, EventMetadata, EventStore, ExpectedVersion,
    JsonSerializer, MessagePackSerializer, NewEvent, RecordedEvent, Serializer,
};
use serde_json::json;

use super::harness::Harness;
use super::support::{append, assert_empty_log, assert_invalid, whole_log, whole_stream};
use crate::proto::{ShopEvent, order_placed, shop};

/// Events of a stock room, through serde: one variant of every shape.
#[mink::event]
#[derive(Debug, Clone, PartialEq)]
pub enum StockEvent {
    /// Named fields, one of them optional.
    #[event(name = "FormatsStocked")]
    Stocked {
        /// The product.
        sku: String,
        /// How many.
        qty: u32,
        /// A remark, often absent.
        #[serde(default)]
        note: Option<String>,
    },
    /// A newtype over a struct.
    #[event(name = "FormatsPriced")]
    Priced(Price),
    /// A tuple.
    #[event(name = "FormatsCounted")]
    Counted(u32, i64),
    /// No payload.
    #[event(name = "FormatsCleared")]
    Cleared,
}

/// A price, in a newtype variant.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Price {
    /// The product.
    pub sku: String,
    /// Cents.
    pub cents: u64,
    /// Raw bytes: an array in JSON, a binary string nowhere.
    pub tag: Vec<u8>,
    /// A float, exact in both formats.
    pub ratio: f64,
}

fn stock_events() -> Vec<StockEvent> {
    vec![
        StockEvent::Stocked {
            sku: "tea — grün".into(),
            qty: 4,
            note: None,
        },
        StockEvent::Stocked {
            sku: "cocoa".into(),
            qty: u32::MAX,
            note: Some("from \"the\" back\nroom".into()),
        },
        StockEvent::Priced(Price {
            sku: "tea".into(),
            cents: u64::MAX,
            tag: vec![0, 1, 0xff],
            ratio: 0.1,
        }),
        StockEvent::Counted(7, i64::MIN),
        StockEvent::Cleared,
    ]
}

/// A user's own format: JSON written as lowercase hexadecimal text, under
/// a media type of its own. Not JSON to any store, so kept as bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct HexJson;

impl HexJson {
    /// Its content type.
    pub const CONTENT_TYPE: ContentType = ContentType::from_static("application/x-hex-json");
}

impl Serializer for HexJson {
    fn format(&self) -> &'static str {
        "hex-json"
    }

    fn content_type(&self) -> ContentType {
        HexJson::CONTENT_TYPE
    }

    fn serialize<T: serde::Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, BoxError> {
        let json = serde_json::to_vec(value)?;
        Ok(json
            .iter()
            .flat_map(|b| format!("{b:02x}").into_bytes())
            .collect())
    }

    fn deserialize<T: serde::de::DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, BoxError> {
        let json = bytes
            .chunks(2)
            .map(|pair| {
                let text = std::str::from_utf8(pair)?;
                Ok(u8::from_str_radix(text, 16)?)
            })
            .collect::<Result<Vec<u8>, BoxError>>()?;
        Ok(serde_json::from_slice(&json)?)
    }
}

fn encode_all<E: Event, S: Serializer>(events: &[E], serializer: &S) -> Vec<NewEvent> {
    events
        .iter()
        .map(|e| {
            e.to_new_event(serializer, EventMetadata::default())
                .expect("encodes")
        })
        .collect()
}

/// Asserts `stored` is `written` as appended: the same ids, content types
/// and, for binary formats, the same bytes.
#[track_caller]
fn assert_stored_as_written(stored: &[RecordedEvent], written: &[NewEvent]) {
    assert_eq!(stored.len(), written.len(), "events read back");
    for (s, w) in stored.iter().zip(written) {
        assert_eq!(s.event_id, w.event_id);
        assert_eq!(
            s.content_type, w.content_type,
            "content type of {}",
            w.event_type
        );
        if !w.content_type.is_json() {
            assert_eq!(
                s.payload, w.payload,
                "bytes of {} ({})",
                w.event_type, w.content_type
            );
        }
    }
}

/// MessagePack payloads of every variant shape come back byte for byte
/// with their content type, on both read paths, and decode to the values
/// written, whichever serializer the reader's application uses.
pub async fn msgpack_payloads_round_trip(harness: Harness) {
    let store = harness.store();
    let events = stock_events();
    let written = encode_all(&events, &MessagePackSerializer);
    assert!(
        written
            .iter()
            .all(|e| e.content_type == ContentType::MSGPACK)
    );
    append(
        &*store,
        "stock-1",
        ExpectedVersion::NoStream,
        written.clone(),
    )
    .await;

    let stored = whole_stream(&*store, "stock-1").await;
    assert_eq!(stored, whole_log(&*store).await);
    assert_stored_as_written(&stored, &written);
    for (recorded, event) in stored.iter().zip(&events) {
        let back = StockEvent::from_recorded(recorded, &MessagePackSerializer).expect("decodes");
        assert_eq!(&back, event);
        // An application whose serializer is JSON still reads them.
        let back = StockEvent::from_recorded(recorded, &JsonSerializer).expect("decodes");
        assert_eq!(&back, event);
    }
}

/// Protocol Buffers payloads (an enum of messages and a message that is an
/// event type of its own) come back byte for byte as
/// `application/protobuf`, and decode whatever the application serializer.
pub async fn protobuf_payloads_round_trip(harness: Harness) {
    let store = harness.store();
    let shop_events = vec![
        ShopEvent::Placed(order_placed("o-1", 3)),
        ShopEvent::Shipped(shop::OrderShipped {
            order_id: "o-1".into(),
            carrier: "post".into(),
        }),
        // All fields default: an empty payload.
        ShopEvent::Placed(shop::OrderPlaced::default()),
        ShopEvent::Closed,
    ];
    let parcel = shop::ParcelWeighed {
        parcel_id: "p-9".into(),
        kilograms: 2.5,
        label: vec![0, 0xff, b'"', b'\\'],
    };
    // Encoded through a MessagePack application: the types fix their own
    // format.
    let mut written = encode_all(&shop_events, &MessagePackSerializer);
    written.extend(encode_all(std::slice::from_ref(&parcel), &JsonSerializer));
    assert!(
        written
            .iter()
            .all(|e| e.content_type == ContentType::PROTOBUF)
    );
    assert!(written[2].payload.is_empty() && written[3].payload.is_empty());
    assert_eq!(written[1].schema_version, 2);
    append(
        &*store,
        "shop-1",
        ExpectedVersion::NoStream,
        written.clone(),
    )
    .await;

    let stored = whole_stream(&*store, "shop-1").await;
    assert_eq!(stored, whole_log(&*store).await);
    assert_stored_as_written(&stored, &written);
    for (recorded, event) in stored.iter().zip(&shop_events) {
        assert_eq!(
            &ShopEvent::from_recorded(recorded, &JsonSerializer).expect("decodes"),
            event
        );
    }
    assert_eq!(
        shop::ParcelWeighed::from_recorded(&stored[4], &HexJson).expect("decodes"),
        parcel
    );
    assert_eq!(stored[1].schema_version, 2);
}

/// JSON, MessagePack, Protocol Buffers and a user's format in one stream
/// and one log: each event is decoded with its own format. A format the
/// reading application does not know is a typed error naming the event,
/// and the events around it still decode.
pub async fn mixed_formats_share_one_log(harness: Harness) {
    let store = harness.store();
    let stocked = StockEvent::Stocked {
        sku: "tea".into(),
        qty: 1,
        note: Some("n".into()),
    };
    let counted = StockEvent::Counted(2, -2);
    let priced = StockEvent::Priced(Price {
        sku: "tea".into(),
        cents: 300,
        tag: vec![],
        ratio: -1.5,
    });
    let cleared = StockEvent::Cleared;
    let expected = [&stocked, &counted, &priced, &cleared, &counted];
    let written = vec![
        stocked
            .to_new_event(&JsonSerializer, EventMetadata::default())
            .expect("json"),
        counted
            .to_new_event(&MessagePackSerializer, EventMetadata::default())
            .expect("msgpack"),
        priced
            .to_new_event(&HexJson, EventMetadata::default())
            .expect("hex"),
        cleared
            .to_new_event(&JsonSerializer, EventMetadata::default())
            .expect("json"),
    ];
    let shipped = ShopEvent::Shipped(shop::OrderShipped {
        order_id: "o-2".into(),
        carrier: "bike".into(),
    });
    let proto = shipped
        .to_new_event(&JsonSerializer, EventMetadata::default())
        .expect("protobuf");
    // Interleaved across two streams of one call.
    store
        .append_to_streams(vec![
            mink::StreamAppend::new("stock-7", ExpectedVersion::NoStream, written.clone()),
            mink::StreamAppend::new("shop-7", ExpectedVersion::NoStream, vec![proto.clone()]),
        ])
        .await
        .expect("append");
    append(
        &*store,
        "stock-7",
        ExpectedVersion::Exact(4),
        vec![
            counted
                .to_new_event(&JsonSerializer, EventMetadata::default())
                .expect("json"),
        ],
    )
    .await;

    let log = whole_log(&*store).await;
    let types: Vec<&str> = log.iter().map(|e| e.content_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "application/json",
            "application/msgpack",
            "application/x-hex-json",
            "application/json",
            "application/protobuf",
            "application/json",
        ]
    );
    assert_eq!(
        ShopEvent::from_recorded(&log[4], &HexJson).expect("protobuf"),
        shipped
    );

    // The application whose serializer is the user's format reads all.
    let stock: Vec<&RecordedEvent> = log.iter().filter(|e| e.stream_id == "stock-7").collect();
    assert_eq!(stock.len(), expected.len());
    for (recorded, event) in stock.iter().zip(expected) {
        let back = StockEvent::from_recorded(recorded, &HexJson).expect("decodes");
        assert_eq!(&back, event);
    }
    // A JSON application reads all but the user format's event, which is a
    // typed error naming it.
    for (i, recorded) in stock.iter().enumerate() {
        let result = StockEvent::from_recorded(recorded, &JsonSerializer);
        if i == 2 {
            match result {
                Err(Error::UnsupportedContentType {
                    content_type,
                    event_type,
                    stream,
                    version,
                }) => assert_eq!(
                    (
                        content_type.as_str(),
                        event_type.as_str(),
                        stream.as_str(),
                        version
                    ),
                    ("application/x-hex-json", "FormatsPriced", "stock-7", 3)
                ),
                other => panic!("expected an unsupported content type, got {other:?}"),
            }
        } else {
            result.expect("decodes");
        }
    }
    // A protobuf type refuses a payload stored in another format instead of
    // misreading its bytes.
    let mut mislabeled = log[4].clone();
    mislabeled.content_type = ContentType::JSON;
    assert!(matches!(
        ShopEvent::from_recorded(&mislabeled, &JsonSerializer),
        Err(Error::UnsupportedContentType { .. })
    ));
}

/// Stores decide how to keep a payload by its content type, never by its
/// bytes: binary payloads that happen to be valid JSON or text come back
/// byte for byte, and content types with parameters or of a user's format
/// come back exactly.
pub async fn binary_payloads_that_look_like_json_keep_their_bytes(harness: Harness) {
    let store = harness.store();
    let raw = |event_type: &str, payload: &[u8], content_type: &'static str| {
        NewEvent::new(event_type, payload.to_vec()).with_content_type(content_type)
    };
    let written = vec![
        // The MessagePack integer 49 is the JSON text `1`.
        raw("Int", b"1", "application/msgpack"),
        // Protobuf field 4 holding 49 is the JSON text ` 1`.
        raw("Field", b" 1", "application/protobuf"),
        // JSON-looking bytes with whitespace, under a binary type.
        raw(
            "Spaced",
            b"{ \"b\" : 1, \"a\" : [ 2 ] }",
            "application/octet-stream",
        ),
        raw("Empty", b"", "application/protobuf"),
        raw("Text", b"plain words", "text/plain; charset=utf-8"),
        raw(
            "Vendor",
            br#"{"order":"o-1"}"#,
            "application/vnd.shop.order+json",
        ),
        raw("Json", br#"{"a":1}"#, "application/json"),
    ];
    append(&*store, "raw-1", ExpectedVersion::NoStream, written.clone()).await;
    let stored = whole_stream(&*store, "raw-1").await;
    assert_eq!(stored, whole_log(&*store).await);
    assert_stored_as_written(&stored, &written);
    for (s, w) in stored.iter().zip(&written).skip(5) {
        let json = |bytes: &[u8]| serde_json::from_slice::<serde_json::Value>(bytes).expect("json");
        assert_eq!(json(&s.payload), json(&w.payload));
    }
    assert_eq!(stored[5].payload, br#"{"order":"o-1"}"#);
    assert_eq!(
        json!({"a": 1}),
        serde_json::from_slice::<serde_json::Value>(&stored[6].payload).expect("json")
    );
}

/// A content type that no column keeps well (empty, too long, not
/// printable ASCII) is refused as invalid input, and nothing is written.
pub async fn bad_content_types_are_refused(harness: Harness) {
    let store = harness.store();
    let long = "a".repeat(256);
    let bad = [
        String::new(),
        long,
        "application/json\0".to_owned(),
        "application/jsön".to_owned(),
        "text/plain\n".to_owned(),
    ];
    for content_type in bad {
        let events = vec![
            NewEvent::new("Fine", b"{}".to_vec()),
            NewEvent::new("Bad", b"{}".to_vec()).with_content_type(content_type.clone()),
        ];
        assert_invalid(
            store
                .append_to_stream("bad-ct", ExpectedVersion::Any, events)
                .await,
            "content_type",
        );
    }
    assert_empty_log(&*store).await;
    let longest = "a".repeat(255);
    append(
        &*store,
        "bad-ct",
        ExpectedVersion::NoStream,
        vec![NewEvent::new("Fine", b"{}".to_vec()).with_content_type(longest.clone())],
    )
    .await;
    assert_eq!(
        whole_stream(&*store, "bad-ct").await[0].content_type,
        longest.as_str()
    );
}
