//! `#[saga]` expands inside a module that shadows the prelude names
//! generated code could lean on by accident: if the expansion wrote
//! `Result`, `Some` or `Vec` instead of a full path, this would not
//! compile.

mod shadowed {
    #![allow(dead_code, reason = "the shadowing items exist only to be in the way")]

    use mink::{command, command_handler, event, saga};

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
    pub struct ToString;
    pub struct Error;
    pub struct Saga;
    pub struct Command;
    pub struct Event;

    #[event(name = "saga_hygiene.Began")]
    pub struct Began {
        pub id: ::std::string::String,
    }

    #[event(name = "saga_hygiene.Ended")]
    pub struct Ended {
        pub id: ::std::string::String,
    }

    #[command(name = "saga_hygiene.Note")]
    pub struct Note {
        #[command(id)]
        pub id: ::std::string::String,
    }

    #[derive(::core::fmt::Debug, ::thiserror::Error)]
    #[error("never")]
    pub struct Never;

    #[command_handler]
    async fn note(_cmd: Note, _ctx: ::mink::HandlerContext) -> ::core::result::Result<(), Never> {
        ::core::result::Result::Ok(())
    }

    #[derive(::core::default::Default, ::serde::Serialize, ::serde::Deserialize)]
    pub struct Hygienic {
        pub open: bool,
    }

    pub fn id_of(event: &Ended) -> &str {
        &event.id
    }

    #[saga]
    impl Hygienic {
        #[saga(start, associate = id)]
        fn began(
            &mut self,
            _event: &Began,
            _cx: &mut ::mink::saga::SagaContext,
        ) -> ::core::option::Option<Note> {
            self.open = true;
            ::core::option::Option::None
        }

        #[saga(associate(key = "id", with = id_of))]
        fn ended(
            &mut self,
            event: Ended,
        ) -> ::core::result::Result<(Note, ::std::vec::Vec<Note>), Never> {
            self.open = false;
            ::core::result::Result::Ok((Note { id: event.id }, ::std::vec::Vec::new()))
        }

        #[saga(compensate)]
        fn undo(&self, done: &Note) -> Note {
            Note {
                id: done.id.clone(),
            }
        }
    }
}

#[test]
fn the_saga_expands_with_the_prelude_names_shadowed() {
    use mink::saga::Saga;
    assert_eq!(shadowed::Hygienic::NAME, "hygienic");
    assert_eq!(
        shadowed::Hygienic::event_types(),
        ["saga_hygiene.Began", "saga_hygiene.Ended"]
    );
}
