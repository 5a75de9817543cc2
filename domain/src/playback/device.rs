//! A user's registered devices (seed §6 `RegisterDeviceRequest` / `Device`): the `UserDevices`
//! aggregate, one per user, so "own devices only" and the per-user limit are checked where the
//! events are decided.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::catalog::is_slug;
use crate::error::ValidationErrors;

/// Most devices one user may register (a household with every screen it owns fits).
pub const MAX_DEVICES: usize = 50;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_PUSH_TOKEN: usize = 4096;
pub const MAX_PLATFORMS: usize = 64;

/// What kind of device, which decides its deep-link format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceType {
    Ios,
    Android,
    Web,
    Tvos,
    Androidtv,
    Roku,
    Tizen,
    Webos,
    Firetv,
    Chromecast,
}

impl DeviceType {
    /// Every type, in the order of the deep-link table's columns.
    pub const ALL: [DeviceType; 10] = [
        DeviceType::Ios,
        DeviceType::Android,
        DeviceType::Web,
        DeviceType::Tvos,
        DeviceType::Androidtv,
        DeviceType::Roku,
        DeviceType::Tizen,
        DeviceType::Webos,
        DeviceType::Firetv,
        DeviceType::Chromecast,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeviceType::Ios => "ios",
            DeviceType::Android => "android",
            DeviceType::Web => "web",
            DeviceType::Tvos => "tvos",
            DeviceType::Androidtv => "androidtv",
            DeviceType::Roku => "roku",
            DeviceType::Tizen => "tizen",
            DeviceType::Webos => "webos",
            DeviceType::Firetv => "firetv",
            DeviceType::Chromecast => "chromecast",
        }
    }

    /// Column of this type in the deep-link table.
    pub fn index(self) -> usize {
        self as usize
    }

    /// A type name, case-insensitive. The seed's generic `tv` and `mobile` are aliases of the
    /// most common OS of each (`androidtv`, `android`): their apps take the same links.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "tv" | "android_tv" | "googletv" | "google_tv" => Some(DeviceType::Androidtv),
            "mobile" => Some(DeviceType::Android),
            "fire_tv" => Some(DeviceType::Firetv),
            "apple_tv" | "tvos_app" => Some(DeviceType::Tvos),
            _ => Self::ALL.into_iter().find(|t| t.as_str() == s),
        }
    }

    /// A television (remote-controlled, the screen a phone casts or controls).
    pub fn is_tv(self) -> bool {
        !matches!(
            self,
            DeviceType::Ios | DeviceType::Android | DeviceType::Web
        )
    }
}

/// Seed `DeviceCapabilities`. An empty `supported_platforms` means the device did not say: every
/// platform is assumed installable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub supports_4k: bool,
    pub supports_hdr: bool,
    pub supports_dolby_atmos: bool,
    pub supported_platforms: Vec<String>,
}

impl Capabilities {
    pub fn supports_platform(&self, platform: &str) -> bool {
        self.supported_platforms.is_empty()
            || self.supported_platforms.iter().any(|p| p == platform)
    }
}

/// A device as registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub device_id: Uuid,
    pub device_name: String,
    pub device_type: DeviceType,
    pub capabilities: Capabilities,
    /// Secret-ish (it lets anyone push to the device): stored, never logged or served back.
    pub push_token: Option<String>,
    pub registered_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DeviceCommand {
    /// Registers a device, or re-registers it with new details (same id: an update).
    Register {
        user_id: Uuid,
        device: Device,
    },
    Remove {
        user_id: Uuid,
        device_id: Uuid,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DeviceEvent {
    DeviceRegistered { user_id: Uuid, device: Device },
    DeviceRemoved { user_id: Uuid, device_id: Uuid },
}

impl DeviceEvent {
    pub fn user_id(&self) -> Uuid {
        match self {
            DeviceEvent::DeviceRegistered { user_id, .. }
            | DeviceEvent::DeviceRemoved { user_id, .. } => *user_id,
        }
    }
}

impl crate::event::Event for DeviceEvent {
    fn event_type(&self) -> &'static str {
        match self {
            DeviceEvent::DeviceRegistered { .. } => "DeviceRegistered",
            DeviceEvent::DeviceRemoved { .. } => "DeviceRemoved",
        }
    }

    fn event_version(&self) -> &'static str {
        "1.0"
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeviceError {
    #[error("{0}")]
    Invalid(ValidationErrors),
    #[error("device {0} is not registered to this user")]
    NotFound(Uuid),
    #[error("at most {MAX_DEVICES} devices per user; remove one first")]
    TooMany,
    #[error("command for user {actual} reached the devices of user {expected}")]
    WrongAggregate { expected: Uuid, actual: Uuid },
}

/// One user's devices.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserDevices {
    pub user_id: Option<Uuid>,
    pub devices: BTreeMap<Uuid, Device>,
}

impl UserDevices {
    pub const TYPE: &'static str = "UserDevices";

    pub fn handle(&self, command: DeviceCommand) -> Result<Vec<DeviceEvent>, DeviceError> {
        let user = match &command {
            DeviceCommand::Register { user_id, .. } | DeviceCommand::Remove { user_id, .. } => {
                *user_id
            }
        };
        if let Some(expected) = self.user_id.filter(|u| *u != user) {
            return Err(DeviceError::WrongAggregate {
                expected,
                actual: user,
            });
        }
        match command {
            DeviceCommand::Register { user_id, device } => {
                let device = validate(device).map_err(DeviceError::Invalid)?;
                match self.devices.get(&device.device_id) {
                    // Same details again: acknowledged, nothing new to say.
                    Some(old) if same_details(old, &device) => Ok(vec![]),
                    Some(old) => Ok(vec![DeviceEvent::DeviceRegistered {
                        user_id,
                        device: Device {
                            registered_at_ms: old.registered_at_ms,
                            ..device
                        },
                    }]),
                    None if self.devices.len() >= MAX_DEVICES => Err(DeviceError::TooMany),
                    None => Ok(vec![DeviceEvent::DeviceRegistered { user_id, device }]),
                }
            }
            DeviceCommand::Remove { user_id, device_id } => {
                if !self.devices.contains_key(&device_id) {
                    return Err(DeviceError::NotFound(device_id));
                }
                Ok(vec![DeviceEvent::DeviceRemoved { user_id, device_id }])
            }
        }
    }

    pub fn apply(&mut self, event: DeviceEvent) {
        self.user_id = Some(event.user_id());
        match event {
            DeviceEvent::DeviceRegistered { device, .. } => {
                self.devices.insert(device.device_id, device);
            }
            DeviceEvent::DeviceRemoved { device_id, .. } => {
                self.devices.remove(&device_id);
            }
        }
    }
}

impl crate::event::Aggregate for UserDevices {
    const TYPE: &'static str = UserDevices::TYPE;
    type Command = DeviceCommand;
    type Event = DeviceEvent;
    type Error = DeviceError;

    fn handle(&self, command: DeviceCommand) -> Result<Vec<DeviceEvent>, DeviceError> {
        UserDevices::handle(self, command)
    }

    fn apply(&mut self, event: DeviceEvent) {
        UserDevices::apply(self, event)
    }
}

fn same_details(a: &Device, b: &Device) -> bool {
    a.device_name == b.device_name
        && a.device_type == b.device_type
        && a.capabilities == b.capabilities
        && a.push_token == b.push_token
}

/// Trims the name, lower-cases and de-duplicates platform slugs; names every bad field.
pub fn validate(mut d: Device) -> Result<Device, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    if d.device_id.is_nil() {
        errors.push("device_id", "must not be the nil UUID");
    }
    d.device_name = d.device_name.trim().to_string();
    if d.device_name.is_empty() {
        errors.push("device_name", "must not be empty");
    } else if d.device_name.chars().count() > MAX_NAME_CHARS {
        errors.push(
            "device_name",
            format!("at most {MAX_NAME_CHARS} characters"),
        );
    } else if d.device_name.chars().any(char::is_control) {
        errors.push("device_name", "must not contain control characters");
    }
    if let Some(t) = &d.push_token {
        if t.is_empty() || t.len() > MAX_PUSH_TOKEN || t.chars().any(char::is_control) {
            errors.push(
                "push_token",
                format!("1–{MAX_PUSH_TOKEN} printable characters"),
            );
        }
    }
    let platforms = std::mem::take(&mut d.capabilities.supported_platforms);
    if platforms.len() > MAX_PLATFORMS {
        errors.push(
            "capabilities.supported_platforms",
            format!("at most {MAX_PLATFORMS} platforms"),
        );
    }
    for (i, p) in platforms.into_iter().enumerate() {
        let slug = p.trim().to_ascii_lowercase();
        if !is_slug(&slug) {
            errors.push(
                format!("capabilities.supported_platforms[{i}]"),
                "must be a platform slug such as `netflix`",
            );
        } else if !d.capabilities.supported_platforms.contains(&slug) {
            d.capabilities.supported_platforms.push(slug);
        }
    }
    d.capabilities.supported_platforms.sort();
    errors.into_result(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: Uuid = Uuid::from_u128(1);

    fn tv(id: u128) -> Device {
        Device {
            device_id: Uuid::from_u128(id),
            device_name: " Living room ".into(),
            device_type: DeviceType::Tizen,
            capabilities: Capabilities {
                supports_4k: true,
                supports_hdr: false,
                supports_dolby_atmos: false,
                supported_platforms: vec!["Netflix".into(), "max".into(), "netflix".into()],
            },
            push_token: None,
            registered_at_ms: 1_000,
        }
    }

    fn given(events: Vec<DeviceEvent>) -> UserDevices {
        let mut a = UserDevices::default();
        for e in events {
            a.apply(e);
        }
        a
    }

    #[test]
    fn registering_normalises_and_records_the_device() {
        let events = given(vec![])
            .handle(DeviceCommand::Register {
                user_id: USER,
                device: tv(7),
            })
            .unwrap();
        let [DeviceEvent::DeviceRegistered { device, .. }] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(device.device_name, "Living room");
        assert_eq!(
            device.capabilities.supported_platforms,
            ["max", "netflix"],
            "lower-cased, deduplicated, sorted"
        );
    }

    #[test]
    fn the_same_registration_twice_is_acknowledged_and_a_change_keeps_the_first_date() {
        let first = given(vec![])
            .handle(DeviceCommand::Register {
                user_id: USER,
                device: tv(7),
            })
            .unwrap();
        let a = given(first);
        assert!(a
            .handle(DeviceCommand::Register {
                user_id: USER,
                device: tv(7)
            })
            .unwrap()
            .is_empty());
        let renamed = Device {
            device_name: "Bedroom".into(),
            registered_at_ms: 9_999,
            ..tv(7)
        };
        let ev = a
            .handle(DeviceCommand::Register {
                user_id: USER,
                device: renamed,
            })
            .unwrap();
        let [DeviceEvent::DeviceRegistered { device, .. }] = ev.as_slice() else {
            panic!()
        };
        assert_eq!(
            (device.device_name.as_str(), device.registered_at_ms),
            ("Bedroom", 1_000)
        );
    }

    #[test]
    fn bad_fields_are_named() {
        let bad = Device {
            device_id: Uuid::nil(),
            device_name: "  ".into(),
            push_token: Some(String::new()),
            capabilities: Capabilities {
                supported_platforms: vec!["Net flix!".into()],
                ..Default::default()
            },
            ..tv(1)
        };
        let Err(DeviceError::Invalid(v)) = given(vec![]).handle(DeviceCommand::Register {
            user_id: USER,
            device: bad,
        }) else {
            panic!()
        };
        let fields: Vec<_> = v.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "device_id",
                "device_name",
                "push_token",
                "capabilities.supported_platforms[0]"
            ]
        );
    }

    #[test]
    fn removing_needs_a_device_of_this_user_and_the_limit_holds() {
        let mut a = UserDevices::default();
        for i in 0..MAX_DEVICES as u128 {
            let ev = a
                .handle(DeviceCommand::Register {
                    user_id: USER,
                    device: tv(i + 1),
                })
                .unwrap();
            ev.into_iter().for_each(|e| a.apply(e));
        }
        assert_eq!(
            a.handle(DeviceCommand::Register {
                user_id: USER,
                device: tv(999)
            }),
            Err(DeviceError::TooMany)
        );
        assert_eq!(
            a.handle(DeviceCommand::Remove {
                user_id: USER,
                device_id: Uuid::from_u128(999)
            }),
            Err(DeviceError::NotFound(Uuid::from_u128(999)))
        );
        let ev = a
            .handle(DeviceCommand::Remove {
                user_id: USER,
                device_id: Uuid::from_u128(3),
            })
            .unwrap();
        ev.into_iter().for_each(|e| a.apply(e));
        assert!(!a.devices.contains_key(&Uuid::from_u128(3)));
        assert!(matches!(
            a.handle(DeviceCommand::Remove {
                user_id: Uuid::from_u128(2),
                device_id: Uuid::from_u128(4)
            }),
            Err(DeviceError::WrongAggregate { .. })
        ));
    }

    #[test]
    fn device_types_and_their_aliases() {
        for t in DeviceType::ALL {
            assert_eq!(DeviceType::parse(t.as_str()), Some(t));
            assert_eq!(DeviceType::ALL[t.index()], t);
        }
        assert_eq!(DeviceType::parse("TV"), Some(DeviceType::Androidtv));
        assert_eq!(DeviceType::parse("mobile"), Some(DeviceType::Android));
        assert_eq!(DeviceType::parse("toaster"), None);
        assert!(DeviceType::Roku.is_tv() && !DeviceType::Ios.is_tv());
    }
}
