//! The tools enabled for a session, by name: what setup declares and all that may run. A call naming a
//! tool that is not here is refused.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::protocol::FunctionDeclaration;

use super::settings::ToolSettingsError;
use super::{Behavior, Tool};

/// One enabled tool and whether each call needs the user's confirmation (its own wish or the settings').
#[derive(Clone)]
pub struct Registered {
    pub tool: Arc<dyn Tool>,
    pub confirm: bool,
}

/// The enabled tools. Cheap to share behind an `Arc`.
#[derive(Clone, Default)]
pub struct Registry {
    tools: BTreeMap<String, Registered>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.tools.keys()).finish()
    }
}

/// The service's rule for function names: a letter or underscore, then letters, digits, `_`, `.`, `-`;
/// at most 64 characters.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok && name.len() <= 64 && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

impl Registry {
    pub fn new() -> Self {
        Registry::default()
    }

    /// Enables `tool`; `confirm` forces confirmation even if the tool does not ask for it.
    pub fn add(&mut self, tool: Arc<dyn Tool>, confirm: bool) -> Result<(), ToolSettingsError> {
        let name = tool.name().to_string();
        if !valid_name(&name) {
            return Err(ToolSettingsError::Invalid(format!(
                "tool name {name:?}: use a letter or _ first, then letters, digits, _ . - (at most 64)"
            )));
        }
        if self.tools.contains_key(&name) {
            return Err(ToolSettingsError::Invalid(format!("tool {name:?} is declared twice")));
        }
        let confirm = confirm || tool.needs_confirmation();
        self.tools.insert(name, Registered { tool, confirm });
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&Registered> {
        self.tools.get(name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.tools.keys().map(String::as_str).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    /// One declaration per tool. `behavior` is written only where the tool differs from what the model
    /// does with an undeclared behaviour (its profile's default): on gemini-3.8-live NON_BLOCKING is the
    /// default, so BLOCKING tools say so; on older models NON_BLOCKING tools do.
    pub fn declarations(&self, model_default: Behavior) -> Vec<FunctionDeclaration> {
        self.tools
            .values()
            .map(|r| {
                let behavior = r.tool.behavior();
                FunctionDeclaration {
                    name: r.tool.name().to_string(),
                    description: Some(r.tool.description().to_string()),
                    parameters: Some(r.tool.parameters()),
                    behavior: (behavior != model_default).then(|| behavior.wire().to_string()),
                    ..FunctionDeclaration::default()
                }
            })
            .collect()
    }

    /// `setup.tools`: one entry holding every declaration, or nothing when no tool is enabled.
    pub fn setup_tools(&self, model_default: Behavior) -> Vec<crate::protocol::Tool> {
        if self.is_empty() {
            return Vec::new();
        }
        vec![crate::protocol::Tool {
            function_declarations: self.declarations(model_default),
            ..crate::protocol::Tool::default()
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::calc::Calculator;
    use crate::tools::clock::Clock;

    #[test]
    fn behaviour_is_declared_only_where_it_differs_from_the_models_default() {
        let mut r = Registry::new();
        r.add(Arc::new(Clock), false).unwrap();
        let on_38 = r.declarations(Behavior::NonBlocking);
        assert_eq!(on_38[0].behavior.as_deref(), Some("BLOCKING"));
        let on_25 = r.declarations(Behavior::Blocking);
        assert_eq!(on_25[0].behavior, None);
    }

    #[test]
    fn names_are_checked_and_unique() {
        assert!(valid_name("get_time") && valid_name("_a.b-c") && !valid_name("1x") && !valid_name("a b"));
        assert!(!valid_name(&"a".repeat(65)));
        let mut r = Registry::new();
        r.add(Arc::new(Calculator), false).unwrap();
        assert!(r.add(Arc::new(Calculator), false).is_err());
    }
}
