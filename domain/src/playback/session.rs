//! A playback session (seed §6): started on one device by the routing decision, controlled from
//! any of the user's devices (play, pause, seek, stop), ended once. One aggregate per session.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ValidationErrors;

/// Longest position accepted (a week of video; anything longer is a client bug).
pub const MAX_POSITION_MS: i64 = 7 * 24 * 3_600_000;

/// A remote-control command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Control {
    Play,
    Pause,
    Seek,
    Stop,
}

impl Control {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "play" | "resume" => Some(Control::Play),
            "pause" => Some(Control::Pause),
            "seek" => Some(Control::Seek),
            "stop" => Some(Control::Stop),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Control::Play => "play",
            Control::Pause => "pause",
            Control::Seek => "seek",
            Control::Stop => "stop",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    #[default]
    Playing,
    Paused,
    Ended,
}

impl SessionState {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Playing => "playing",
            SessionState::Paused => "paused",
            SessionState::Ended => "ended",
        }
    }
}

/// What a session was started with (the routing decision).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Started {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub device_id: Uuid,
    pub content_id: Uuid,
    pub platform: String,
    pub deep_link: String,
    pub web_fallback: String,
    pub resume_position_ms: Option<u64>,
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SessionCommand {
    Start(Started),
    Control {
        user_id: Uuid,
        command: Control,
        /// Required for `seek`; optional otherwise (where the controller saw it).
        position_ms: Option<i64>,
        at_ms: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SessionEvent {
    PlaybackStarted(Started),
    PlaybackControlled {
        session_id: Uuid,
        user_id: Uuid,
        command: Control,
        position_ms: Option<u64>,
        at_ms: i64,
    },
    PlaybackEnded {
        session_id: Uuid,
        user_id: Uuid,
        position_ms: Option<u64>,
        at_ms: i64,
    },
}

impl SessionEvent {
    pub fn session_id(&self) -> Uuid {
        match self {
            SessionEvent::PlaybackStarted(s) => s.session_id,
            SessionEvent::PlaybackControlled { session_id, .. }
            | SessionEvent::PlaybackEnded { session_id, .. } => *session_id,
        }
    }

    pub fn user_id(&self) -> Uuid {
        match self {
            SessionEvent::PlaybackStarted(s) => s.user_id,
            SessionEvent::PlaybackControlled { user_id, .. }
            | SessionEvent::PlaybackEnded { user_id, .. } => *user_id,
        }
    }
}

impl crate::event::Event for SessionEvent {
    fn event_type(&self) -> &'static str {
        match self {
            SessionEvent::PlaybackStarted(_) => "PlaybackStarted",
            SessionEvent::PlaybackControlled { .. } => "PlaybackControlled",
            SessionEvent::PlaybackEnded { .. } => "PlaybackEnded",
        }
    }

    fn event_version(&self) -> &'static str {
        "1.0"
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SessionError {
    #[error("{0}")]
    Invalid(ValidationErrors),
    #[error("no such playback session")]
    NotFound,
    #[error("the session belongs to another user")]
    Forbidden,
    #[error("the session has ended")]
    Ended,
    #[error("the session exists already")]
    AlreadyStarted,
}

/// One session's state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlaybackSession {
    pub started: Option<Started>,
    pub state: SessionState,
    /// Last position known to the session (start, seek, or a controller's report).
    pub position_ms: Option<u64>,
    pub updated_at_ms: i64,
}

impl PlaybackSession {
    pub const TYPE: &'static str = "PlaybackSession";

    pub fn handle(&self, command: SessionCommand) -> Result<Vec<SessionEvent>, SessionError> {
        match command {
            SessionCommand::Start(s) => {
                if self.started.is_some() {
                    return Err(SessionError::AlreadyStarted);
                }
                let mut errors = ValidationErrors::default();
                for (field, id) in [
                    ("session_id", s.session_id),
                    ("user_id", s.user_id),
                    ("device_id", s.device_id),
                    ("content_id", s.content_id),
                ] {
                    if id.is_nil() {
                        errors.push(field, "must not be the nil UUID");
                    }
                }
                if s.platform.is_empty() {
                    errors.push("platform", "must not be empty");
                }
                errors
                    .into_result(vec![SessionEvent::PlaybackStarted(s)])
                    .map_err(SessionError::Invalid)
            }
            SessionCommand::Control {
                user_id,
                command,
                position_ms,
                at_ms,
            } => {
                let started = self.started.as_ref().ok_or(SessionError::NotFound)?;
                if started.user_id != user_id {
                    return Err(SessionError::Forbidden);
                }
                let position_ms = check_position(command, position_ms)?;
                if self.state == SessionState::Ended {
                    return Err(SessionError::Ended);
                }
                let session_id = started.session_id;
                let mut out = vec![SessionEvent::PlaybackControlled {
                    session_id,
                    user_id,
                    command,
                    position_ms,
                    at_ms,
                }];
                if command == Control::Stop {
                    out.push(SessionEvent::PlaybackEnded {
                        session_id,
                        user_id,
                        position_ms: position_ms.or(self.position_ms),
                        at_ms,
                    });
                }
                Ok(out)
            }
        }
    }

    pub fn apply(&mut self, event: SessionEvent) {
        match event {
            SessionEvent::PlaybackStarted(s) => {
                self.position_ms = s.resume_position_ms;
                self.updated_at_ms = s.at_ms;
                self.state = SessionState::Playing;
                self.started = Some(s);
            }
            SessionEvent::PlaybackControlled {
                command,
                position_ms,
                at_ms,
                ..
            } => {
                self.updated_at_ms = at_ms;
                if position_ms.is_some() {
                    self.position_ms = position_ms;
                }
                match command {
                    Control::Play => self.state = SessionState::Playing,
                    Control::Pause => self.state = SessionState::Paused,
                    Control::Seek | Control::Stop => {}
                }
            }
            SessionEvent::PlaybackEnded {
                position_ms, at_ms, ..
            } => {
                self.state = SessionState::Ended;
                self.updated_at_ms = at_ms;
                if position_ms.is_some() {
                    self.position_ms = position_ms;
                }
            }
        }
    }
}

/// `seek` needs a position; any position given must be within 0 ..= a week.
fn check_position(command: Control, position_ms: Option<i64>) -> Result<Option<u64>, SessionError> {
    let invalid = |m: &str| {
        let mut e = ValidationErrors::default();
        e.push("position_ms", m);
        SessionError::Invalid(e)
    };
    match position_ms {
        None if command == Control::Seek => Err(invalid("is required to seek")),
        None => Ok(None),
        Some(p) if p < 0 => Err(invalid("must not be negative")),
        Some(p) if p > MAX_POSITION_MS => Err(invalid("is beyond any video's length")),
        Some(p) => Ok(Some(p as u64)),
    }
}

impl crate::event::Aggregate for PlaybackSession {
    const TYPE: &'static str = PlaybackSession::TYPE;
    type Command = SessionCommand;
    type Event = SessionEvent;
    type Error = SessionError;

    fn handle(&self, command: SessionCommand) -> Result<Vec<SessionEvent>, SessionError> {
        PlaybackSession::handle(self, command)
    }

    fn apply(&mut self, event: SessionEvent) {
        PlaybackSession::apply(self, event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: Uuid = Uuid::from_u128(1);

    fn started() -> Started {
        Started {
            session_id: Uuid::from_u128(10),
            user_id: USER,
            device_id: Uuid::from_u128(20),
            content_id: Uuid::from_u128(30),
            platform: "netflix".into(),
            deep_link: "nflx://www.netflix.com/title/1".into(),
            web_fallback: "https://www.netflix.com/title/1".into(),
            resume_position_ms: Some(60_000),
            at_ms: 1,
        }
    }

    fn given(events: Vec<SessionEvent>) -> PlaybackSession {
        let mut s = PlaybackSession::default();
        events.into_iter().for_each(|e| s.apply(e));
        s
    }

    fn control(command: Control, position_ms: Option<i64>) -> SessionCommand {
        SessionCommand::Control {
            user_id: USER,
            command,
            position_ms,
            at_ms: 2,
        }
    }

    #[test]
    fn a_session_starts_once_at_its_resume_point() {
        let ev = given(vec![])
            .handle(SessionCommand::Start(started()))
            .unwrap();
        assert_eq!(ev, [SessionEvent::PlaybackStarted(started())]);
        let s = given(ev);
        assert_eq!(
            (s.state, s.position_ms),
            (SessionState::Playing, Some(60_000))
        );
        assert_eq!(
            s.handle(SessionCommand::Start(started())),
            Err(SessionError::AlreadyStarted)
        );
    }

    #[test]
    fn pause_seek_play_stop() {
        let mut s = given(vec![SessionEvent::PlaybackStarted(started())]);
        for (cmd, pos, state, at) in [
            (Control::Pause, None, SessionState::Paused, Some(60_000)),
            (
                Control::Seek,
                Some(90_000),
                SessionState::Paused,
                Some(90_000),
            ),
            (Control::Play, None, SessionState::Playing, Some(90_000)),
        ] {
            let ev = s.handle(control(cmd, pos)).unwrap();
            assert_eq!(ev.len(), 1);
            ev.into_iter().for_each(|e| s.apply(e));
            assert_eq!((s.state, s.position_ms), (state, at), "{cmd:?}");
        }
        let ev = s.handle(control(Control::Stop, None)).unwrap();
        assert!(matches!(
            ev.as_slice(),
            [
                SessionEvent::PlaybackControlled {
                    command: Control::Stop,
                    ..
                },
                SessionEvent::PlaybackEnded {
                    position_ms: Some(90_000),
                    ..
                }
            ]
        ));
        ev.into_iter().for_each(|e| s.apply(e));
        assert_eq!(s.state, SessionState::Ended);
        assert_eq!(
            s.handle(control(Control::Play, None)),
            Err(SessionError::Ended)
        );
    }

    #[test]
    fn bad_controls_are_refused_naming_the_field() {
        let s = given(vec![SessionEvent::PlaybackStarted(started())]);
        for (cmd, pos, msg) in [
            (Control::Seek, None, "is required to seek"),
            (Control::Seek, Some(-1), "must not be negative"),
            (
                Control::Pause,
                Some(MAX_POSITION_MS + 1),
                "is beyond any video's length",
            ),
        ] {
            let Err(SessionError::Invalid(v)) = s.handle(control(cmd, pos)) else {
                panic!("{cmd:?} {pos:?}")
            };
            assert_eq!(
                (v.0[0].field.as_str(), v.0[0].message.as_str()),
                ("position_ms", msg)
            );
        }
    }

    #[test]
    fn only_its_user_controls_it_and_an_unknown_session_is_not_found() {
        let s = given(vec![SessionEvent::PlaybackStarted(started())]);
        assert_eq!(
            s.handle(SessionCommand::Control {
                user_id: Uuid::from_u128(99),
                command: Control::Pause,
                position_ms: None,
                at_ms: 2
            }),
            Err(SessionError::Forbidden)
        );
        assert_eq!(
            given(vec![]).handle(control(Control::Pause, None)),
            Err(SessionError::NotFound)
        );
        assert_eq!(Control::parse("SEEK"), Some(Control::Seek));
        assert_eq!(Control::parse("rewind"), None);
    }
}
