//! Function calling on the wire: declarations in setup, calls from the server, responses from the client.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::content::{FunctionCall, FunctionResponse};

/// One entry of `setup.tools`: function declarations or a built-in tool such as Google Search.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool {
    #[serde(default, skip_serializing_if = "Vec::is_empty", alias = "function_declarations")]
    pub function_declarations: Vec<FunctionDeclaration>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "google_search")]
    pub google_search: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "code_execution")]
    pub code_execution: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "url_context")]
    pub url_context: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "google_search_retrieval")]
    pub google_search_retrieval: Option<Value>,
}

/// A function the model may call. `parameters` is an OpenAPI-style schema, `parametersJsonSchema` plain
/// JSON Schema; both are kept verbatim (their keys are user data, never renamed).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionDeclaration {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "parameters_json_schema")]
    pub parameters_json_schema: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Value>,
    /// BLOCKING (default) or NON_BLOCKING.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behavior: Option<String>,
}

/// Server -> client: run these functions and answer with one `toolResponse`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolCall {
    #[serde(default, alias = "function_calls")]
    pub function_calls: Vec<FunctionCall>,
}

/// Server -> client: these calls are cancelled; their responses must not be sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolCallCancellation {
    #[serde(default)]
    pub ids: Vec<String>,
}

/// Client -> server: the results of a tool call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolResponse {
    #[serde(default, alias = "function_responses")]
    pub function_responses: Vec<FunctionResponse>,
}
