//! Serde types of the Interaction Service API and of the outbound platform events.
//!
//! Requests serialize exactly as the API reference shows (camelCase, absent optionals left out).
//! Response and event types ignore unknown fields on purpose (Salesforce adds fields); enum-like
//! values that Salesforce extends (roles, app types, entry types) stay strings so a new value
//! is carried, not refused.

use std::collections::BTreeMap;

use omnichannel_core::Raw;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// A conversation participant (`Participant` in the spec).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    /// `custom`, `agent`, `chatbot`, `conversation`, `live_message`, `iamessage`.
    pub app_type: String,
    /// End-user client id, or a Salesforce user id for a rep.
    pub subject: String,
    /// `EndUser`, `Chatbot`, `Agent`, `Supervisor`, `System`, `Router`.
    pub role: String,
}

impl Participant {
    /// The end user of a custom channel (`custom` / `EndUser`), as Salesforce requires since
    /// Spring '24 wherever the end user is named.
    pub fn end_user(client_id: impl Into<String>) -> Self {
        Participant {
            app_type: "custom".into(),
            subject: client_id.into(),
            role: "EndUser".into(),
        }
    }

    /// A rep (`agent` / `Agent`) by Salesforce user id.
    pub fn agent(user_id: impl Into<String>) -> Self {
        Participant {
            app_type: "agent".into(),
            subject: user_id.into(),
            role: "Agent".into(),
        }
    }
}

/// The `json` part of `POST /interactions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InteractionRequest {
    /// Channel address identifier (`MessagingChannel.ChannelAddressIdentifier`).
    pub to: String,
    /// End-user client id chosen by the partner.
    pub from: String,
    /// Channel variables (honoured only under Salesforce-owned routing).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub routing_attributes: BTreeMap<String, String>,
    /// Exactly one interaction.
    pub interactions: Vec<Interaction>,
}

/// One interaction (`AbstractInteraction`, discriminated by `interactionType`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "interactionType", rename_all_fields = "camelCase")]
pub enum Interaction {
    /// An entry: message, typing indicator, delivery failure.
    EntryInteraction {
        /// Epoch milliseconds.
        timestamp: i64,
        /// The entry.
        payload: InboundEntry,
    },
    /// A file sent in the `attachments` part.
    AttachmentInteraction {
        /// Epoch milliseconds.
        timestamp: i64,
        /// The interaction id (a UUID).
        id: String,
        /// Index of the file part (always 0: one file per request).
        attachment_index: u32,
        /// File size in bytes.
        content_length: u64,
        /// Optional caption.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
}

/// An entry sent by the end user (`AbstractEntry`, discriminated by `entryType`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "entryType", rename_all_fields = "camelCase")]
pub enum InboundEntry {
    /// A message; `id` must equal `abstract_message.id`.
    Message {
        /// Entry id (a UUID).
        id: String,
        /// The message.
        abstract_message: AbstractMessage,
    },
    /// The end user started typing.
    TypingStartedIndicator {
        /// Entry id.
        id: String,
        /// Epoch milliseconds.
        timestamp: i64,
    },
    /// The end user stopped typing.
    TypingStoppedIndicator {
        /// Entry id.
        id: String,
        /// Epoch milliseconds.
        timestamp: i64,
    },
    /// A rep's message could not be delivered to the end user.
    MessageDeliveryFailed {
        /// Entry id.
        id: String,
        /// The end user (`custom` / `EndUser`).
        recipient: Participant,
        /// The channel's error code.
        error_code: String,
        /// The channel's error text.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_message: Option<String>,
        /// The conversation entry that failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failed_conversation_entry_identifier: Option<String>,
    },
}

/// A message (`AbstractMessage`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AbstractMessage {
    /// `StaticContentMessage`, `ChoicesMessage`, `ChoicesResponseMessage`, `FormMessage`, ...
    pub message_type: String,
    /// Message id.
    pub id: String,
    /// Content of a `StaticContentMessage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_content: Option<StaticContent>,
    /// The message this one answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to_message_id: Option<String>,
}

/// Static content (`formatType` `Text`, `Attachments`, `Links`, ...). Formats beyond these keep
/// their fields in the event's `raw`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StaticContent {
    /// `Text`, `Attachments`, `Links`, `RichLink`, `Media`, ...
    pub format_type: String,
    /// Text or caption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Files of an `Attachments` content.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub attachments: Vec<ContentAttachment>,
    /// Links of a `Links` content.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub links: Vec<Link>,
}

impl StaticContent {
    /// `Text` content.
    pub fn text(text: impl Into<String>) -> Self {
        StaticContent {
            format_type: "Text".into(),
            text: Some(text.into()),
            attachments: Vec::new(),
            links: Vec::new(),
        }
    }
}

/// A file of an outbound (rep) message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentAttachment {
    /// Attachment id.
    #[serde(default)]
    pub id: Option<String>,
    /// File name.
    #[serde(default)]
    pub name: Option<String>,
    /// MIME type.
    #[serde(default)]
    pub mime_type: Option<String>,
    /// Public download URL (`*.documentforce.com`).
    #[serde(default)]
    pub url: Option<String>,
    /// Reference id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<String>,
    /// Upload result (`CompletedAttachmentUploadResult`, `PendingAttachmentUploadResult`,
    /// `ErrorAttachmentUploadResult {errorType, errorMessage}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_upload_result: Option<UploadResult>,
}

/// An attachment's upload result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadResult {
    /// `CompletedAttachmentUploadResult`, `PendingAttachmentUploadResult`, `ErrorAttachmentUploadResult`.
    pub result_type: String,
    /// Error type of a failed upload (`AttachmentTooLarge`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// Error text of a failed upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

/// A link of `Links` content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// The URL.
    pub url: String,
}

/// `202` answer of `POST /interactions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InteractionResponse {
    /// The conversation (new or existing).
    #[serde(default)]
    pub conversation_identifier: Option<String>,
    /// Id of the interaction.
    #[serde(default)]
    pub id: Option<String>,
    /// MessagingSession work items (the first is AgentWork's `workItemId`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub work_item_ids: Vec<String>,
    /// Whether Salesforce took it.
    #[serde(default = "yes")]
    pub success: bool,
}

fn yes() -> bool {
    true
}

/// The error body of every endpoint (`Error {code, message}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Numeric code (`ERRORCODES.md`).
    #[serde(deserialize_with = "lenient_i64")]
    pub code: i64,
    /// Text.
    #[serde(default)]
    pub message: String,
}

/// `errorDetail` of status answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Numeric code.
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub code: Option<i64>,
    /// Text.
    #[serde(default)]
    pub message: Option<String>,
}

/// Answer `{success, errorDetail}` of consent, agentWork PATCH, routingResult, participant and
/// capabilities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusResponse {
    /// Whether it worked.
    pub success: bool,
    /// Why not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<ErrorDetail>,
}

/// `Read` or `Delivered`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AcknowledgementType {
    /// The end user read the entry.
    Read,
    /// The entry reached the end user.
    Delivered,
}

/// One receipt of `POST /acknowledgement`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Acknowledgement {
    /// Read or delivered.
    pub acknowledgement_type: AcknowledgementType,
    /// The rep's conversation entry (`identifier` of the outbound event).
    pub acknowledged_conversation_entry_identifier: String,
    /// A new UUID for the receipt entry (the spec spells it `acknowledgment...`).
    #[serde(rename = "acknowledgmentCreatedConversationEntryIdentifier")]
    pub created_conversation_entry_identifier: String,
    /// Epoch milliseconds.
    pub acknowledgement_timestamp: i64,
}

/// `POST /acknowledgement` (1 to 25 receipts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcknowledgementRequest {
    /// The conversation.
    pub conversation_identifier: String,
    /// The end user acknowledging (`custom` / `EndUser`).
    pub sender: Participant,
    /// The receipts.
    pub acknowledgements: Vec<Acknowledgement>,
}

/// Answer `{success}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuccessResponse {
    /// Whether it worked.
    pub success: bool,
}

/// `Initial`, `Transfer` or `Conference`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoutingType {
    /// A new conversation.
    Initial,
    /// A transfer.
    Transfer,
    /// A conference.
    Conference,
}

/// AgentWork `routingContext`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutingContext {
    /// The conversation.
    pub conversation_identifier: String,
    /// Why it is routed.
    pub routing_type: RoutingType,
    /// The routing event's id (`channelData.eventId` of `RoutingRequested`, or the route answer's
    /// `routingCorrelationId`).
    pub routing_correlation_id: String,
}

/// A rep action shown or hidden.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentActionVisibility {
    /// `Transfer` or `Conference`.
    pub agent_action: String,
    /// Shown or not.
    pub visible: bool,
}

/// `POST /agentWork`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentWorkRequest {
    /// Salesforce user id (or external user id).
    pub user_id: String,
    /// MessagingSession work item, exactly 15 characters.
    pub work_item_id: String,
    /// 0 to 100; not with `capacity_weight`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_percentage: Option<f64>,
    /// At least 0; not with `capacity_percentage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_weight: Option<f64>,
    /// The routing this answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_context: Option<RoutingContext>,
    /// Rep actions to show or hide.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agent_action_visibilities: Vec<AgentActionVisibility>,
}

/// `agentWorkDetails` of the AgentWork answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentWorkDetails {
    /// Whether a PendingServiceRouting existed.
    #[serde(default)]
    pub exist_psr: bool,
    /// Capacity percentage.
    #[serde(default)]
    pub capacity_percentage: Option<f64>,
    /// Capacity weight.
    #[serde(default)]
    pub capacity_weight: Option<f64>,
    /// The PSR.
    #[serde(default)]
    pub psr_id: Option<String>,
    /// The routing context.
    #[serde(default)]
    pub routing_context: Option<RoutingContext>,
}

/// `202` answer of `POST /agentWork`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentWorkResponse {
    /// Request id.
    #[serde(default)]
    pub id: Option<String>,
    /// The AgentWork record.
    #[serde(default)]
    pub agent_work_id: Option<String>,
    /// Whether it worked.
    pub success: bool,
    /// Details.
    #[serde(default)]
    pub agent_work_details: Option<AgentWorkDetails>,
}

/// `Agent` or `Chatbot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkContextType {
    /// A rep's work.
    Agent,
    /// A bot's work (needs `work_item_id` and `bot_id`).
    Chatbot,
}

/// New state of an AgentWork.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkStatus {
    /// Accept it.
    Accept,
    /// Close it.
    Close,
    /// Decline it.
    Decline,
    /// Cancel it (only before it was accepted or declined).
    Cancel,
}

/// `PATCH /agentWork`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PatchAgentWorkRequest {
    /// The AgentWork id (`0Bz...`).
    pub work_id: String,
    /// Agent or chatbot.
    pub context_type: WorkContextType,
    /// New state.
    pub status: WorkStatus,
    /// Required for `Chatbot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_item_id: Option<String>,
    /// Required for `Chatbot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_id: Option<String>,
}

/// Consent states of `PATCH /consent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsentStatus {
    /// Sending a message implies consent.
    ImplicitlyOptedIn,
    /// The end user explicitly consents.
    ExplicitlyOptedIn,
    /// Explicit consent, then confirmation.
    DoublyOptedIn,
    /// The end user opts out (STOP).
    OptedOut,
}

/// `PATCH /consent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentRequest {
    /// End-user client id.
    pub end_user_client_id: String,
    /// Channel address identifier.
    pub channel_address_identifier: String,
    /// New consent state.
    pub consent_status: ConsentStatus,
}

/// Flow-based routing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowRouting {
    /// The flow.
    pub flow_id: String,
    /// Fallback queue.
    pub queue_id: String,
}

/// `routingInfo` of `POST /route` (omit it for channel-configured routing).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutingInfo {
    /// Channel variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub routing_attributes: BTreeMap<String, String>,
    /// Queue-based routing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
    /// Flow-based routing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<FlowRouting>,
}

/// `POST /route`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteRequest {
    /// The conversation.
    pub conversation_identifier: String,
    /// Why it is routed.
    pub routing_type: RoutingType,
    /// How; absent: as the channel is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_info: Option<RoutingInfo>,
}

/// `202` answer of `POST /route`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteResponse {
    /// Whether routing started.
    pub success: bool,
    /// Why not.
    #[serde(default)]
    pub reason_for_not_routing: Option<String>,
    /// Use as AgentWork `routingCorrelationId`.
    #[serde(default)]
    pub routing_correlation_id: Option<String>,
    /// Context (userId, queueId, ...).
    #[serde(default)]
    pub context_param_map: Option<BTreeMap<String, Value>>,
    /// The PendingServiceRouting.
    #[serde(default)]
    pub psr_id: Option<String>,
    /// The work item.
    #[serde(default)]
    pub work_item_id: Option<String>,
    /// Errors `{errorMessage, errorType, apiErrorCode}`.
    #[serde(default)]
    pub errors: Option<Value>,
}

/// Why a PSR is cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CancelReason {
    /// Unknown.
    Unknown,
    /// No rep available.
    Unavailable,
    /// Declined.
    Decline,
    /// Cancelled.
    Cancel,
}

/// `DELETE /route` (a JSON body on a DELETE).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteRouteRequest {
    /// The conversation.
    pub conversation_identifier: String,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<CancelReason>,
}

/// `POST /routingResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutingResultRequest {
    /// The conversation.
    pub conversation_identifier: String,
    /// The work item, exactly 15 characters.
    pub work_item_id: String,
    /// Whether the partner routed it.
    pub success: bool,
    /// Routed outside Salesforce.
    pub externally_routed: bool,
    /// Only when `success` is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Routing type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_type: Option<RoutingType>,
}

/// `End` or `Inactivate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionOperation {
    /// End the messaging session.
    End,
    /// Inactivate it (needs `session_id`).
    Inactivate,
}

/// Who ends a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OperationBy {
    /// The end user.
    EndUser,
    /// The system.
    System,
}

/// `POST /messagingSession` (partner-owned routing, v65.0+).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessagingSessionRequest {
    /// Channel address identifier.
    pub channel_address_identifier: String,
    /// End-user client id.
    pub end_user_client_id: String,
    /// The conversation.
    pub conversation_identifier: String,
    /// End or inactivate.
    pub operation: SessionOperation,
    /// Who.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_by: Option<OperationBy>,
    /// The session (required to inactivate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// Answer of `POST /messagingSession`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessagingSessionResponse {
    /// Whether it worked.
    pub success: bool,
    /// Why not (`SESSION_NOT_FOUND`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_reason: Option<String>,
}

/// `POST /participant` (operation `Remove`, one participant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantRequest {
    /// The conversation.
    pub conversation_identifier: String,
    /// Always `Remove`.
    pub operation: String,
    /// Exactly one participant.
    pub participants: Vec<Participant>,
}

/// `POST /conversation` (proactive: establish a conversation with an end user).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationRequest {
    /// Channel address identifier.
    pub channel_address_identifier: String,
    /// Exactly one end user.
    pub participants: Vec<Participant>,
    /// Channel variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub routing_attributes: BTreeMap<String, String>,
}

/// `202` answer of `POST /conversation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationResponse {
    /// The new conversation.
    #[serde(default)]
    pub conversation_identifier: Option<String>,
    /// Its messaging session.
    #[serde(default)]
    pub messaging_session_id: Option<String>,
    /// Whether it worked.
    pub success: bool,
}

/// `PATCH /capabilities`: `{"capabilities": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapabilitiesRequest {
    /// The capabilities.
    pub capabilities: CapabilitySet,
}

/// `capabilities` of `PATCH /capabilities`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapabilitySet {
    /// Always `custom`.
    pub app_type: String,
    /// One per channel.
    pub channel_capabilities: Vec<ChannelCapability>,
}

/// One channel's capabilities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelCapability {
    /// Always `custom`.
    pub channel_type: String,
    /// The integration.
    pub custom_integration: CustomIntegration,
    /// Message types and their formats the integration supports.
    pub message_type_capabilities: Vec<MessageTypeCapability>,
    /// Progress indicator types, when registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_indicator_type_capabilities: Option<Value>,
}

/// `customIntegration` of a channel capability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomIntegration {
    /// `CustomChannelIntegration`.
    pub custom_integration_type: String,
    /// Namespace, when packaged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_namespace: Option<String>,
    /// The conversation channel definition.
    pub conversation_channel_definition_dev_name: String,
}

/// A message type and its formats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageTypeCapability {
    /// `StaticContentMessage`, ...
    pub message_type: String,
    /// Formats.
    pub format_type_capabilities: Vec<FormatTypeCapability>,
}

/// A format and its field restrictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FormatTypeCapability {
    /// `Text`, `Attachments`, ...
    pub format_type: String,
    /// Restrictions, as the API reference describes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capability_field_restriction: Vec<Value>,
}

impl CapabilitiesRequest {
    /// The capabilities this crate maps: `StaticContentMessage` with `Text`, `Attachments` and
    /// `Links`, for the conversation channel definition `ccd_dev_name`.
    pub fn static_content(ccd_dev_name: impl Into<String>) -> Self {
        let formats = ["Text", "Attachments", "Links"]
            .into_iter()
            .map(|f| FormatTypeCapability {
                format_type: f.into(),
                capability_field_restriction: Vec::new(),
            })
            .collect();
        CapabilitiesRequest {
            capabilities: CapabilitySet {
                app_type: "custom".into(),
                channel_capabilities: vec![ChannelCapability {
                    channel_type: "custom".into(),
                    custom_integration: CustomIntegration {
                        custom_integration_type: "CustomChannelIntegration".into(),
                        integration_namespace: None,
                        conversation_channel_definition_dev_name: ccd_dev_name.into(),
                    },
                    message_type_capabilities: vec![MessageTypeCapability {
                        message_type: "StaticContentMessage".into(),
                        format_type_capabilities: formats,
                    }],
                    progress_indicator_type_capabilities: None,
                }],
            },
        }
    }
}

// ----- outbound platform events (rep -> end user) -----

/// A conversation entry of an outbound event (`ConversationEntry`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationEntry {
    /// Conversation-entry id (acknowledge this one).
    #[serde(default)]
    pub identifier: Option<String>,
    /// `Message`, `TypingStartedIndicator`, `ParticipantChanged`, ...
    pub entry_type: String,
    /// The entry body as received (JSON `null` when absent), typed by [`EntryPayload::parse`]:
    /// its JSON text when the event was read in one pass, a value otherwise. Read it with
    /// [`Raw::to_value`].
    #[serde(default = "null_raw")]
    pub entry_payload: Raw,
    /// Who wrote it.
    #[serde(default)]
    pub sender: Option<Participant>,
    /// The sender's display name.
    #[serde(default)]
    pub sender_display_name: Option<String>,
    /// Epoch ms, client side.
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub client_timestamp: Option<i64>,
    /// Epoch ms, when Salesforce recorded it.
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub transcripted_timestamp: Option<i64>,
    /// Duration in ms.
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub client_duration: Option<i64>,
}

/// One change of a `ParticipantChanged` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantChange {
    /// `add`, `remove` or `update`.
    pub operation: String,
    /// Who.
    pub participant: Participant,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
}

/// A `SessionStatusChanged` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionStatusChange {
    /// The messaging session.
    #[serde(default)]
    pub session_id: Option<String>,
    /// Channel address identifier.
    #[serde(default)]
    pub channel_address_identifier: Option<String>,
    /// The conversation.
    #[serde(default)]
    pub conversation_identifier: Option<String>,
    /// `Active`, `Ended`, `Waiting`, `New`, `Consent`, `Inactive`, `Error`, `Paused`.
    pub session_status: String,
    /// The previous status.
    #[serde(default)]
    pub session_status_prev: Option<String>,
    /// Who ended it.
    #[serde(default)]
    pub session_ended_by_role: Option<String>,
    /// Epoch ms.
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub session_start_time: Option<i64>,
    /// Epoch ms.
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub session_end_time: Option<i64>,
}

/// The typed body of a [`ConversationEntry`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EntryPayload {
    /// A rep (or bot) message.
    Message {
        /// The message.
        message: AbstractMessage,
        /// `AutomatedResponse` | `Consent`.
        message_reason: Option<String>,
    },
    /// A message was changed (an attachment upload finished, an edit).
    MessageUpdated {
        /// The new state of the message.
        message: AbstractMessage,
    },
    /// Typing started (`true`) or stopped.
    Typing {
        /// Started or stopped.
        started: bool,
    },
    /// A read or delivery receipt.
    Acknowledgement {
        /// Read (`true`) or delivered.
        read: bool,
        /// The entry acknowledged.
        acknowledged_entry: Option<String>,
    },
    /// A message could not be delivered.
    DeliveryFailed {
        /// The failed entry.
        failed_entry: Option<String>,
        /// Error code.
        error_code: Option<String>,
        /// Error text.
        error_message: Option<String>,
    },
    /// Participants joined, left or changed.
    ParticipantChanged {
        /// The changes.
        entries: Vec<ParticipantChange>,
    },
    /// The messaging session changed state.
    SessionStatusChanged(SessionStatusChange),
    /// Any other entry type; its body stays in the event's `raw`.
    Other,
}

fn null_raw() -> Raw {
    Raw::from(Value::Null)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageBody {
    abstract_message: AbstractMessage,
    #[serde(default)]
    message_reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdatedBody {
    updated_message: AbstractMessage,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AckBody {
    #[serde(default)]
    acknowledged_conversation_entry_identifier: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FailedBody {
    #[serde(default, alias = "failedChannelEntryIdentifier")]
    failed_conversation_entry_identifier: Option<String>,
    #[serde(default, deserialize_with = "lenient_opt_string")]
    error_code: Option<String>,
    #[serde(default)]
    error_message: Option<String>,
}

#[derive(Deserialize)]
struct ParticipantsBody {
    #[serde(default, deserialize_with = "null_as_default")]
    entries: Vec<ParticipantChange>,
}

/// Every entry body's fields at once, for the one-pass reading ([`crate::fast`]), which meets
/// the body before it may know the entry type. Each field is declared as in the body type that
/// has it ([`MessageBody`], [`UpdatedBody`], [`AckBody`], [`FailedBody`], [`ParticipantsBody`],
/// [`SessionStatusChange`]; a required field is optional here and required by
/// [`EntryPayload::from_any`]), so that for any entry type a body read as this one gives what
/// that type's reading of the tree gives. `id` is the body's id when a string (any other value
/// is left to the tree).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AnyBody {
    #[serde(default)]
    abstract_message: Option<Box<AbstractMessage>>,
    #[serde(default)]
    message_reason: Option<String>,
    #[serde(default)]
    updated_message: Option<Box<AbstractMessage>>,
    #[serde(default)]
    acknowledged_conversation_entry_identifier: Option<String>,
    #[serde(default, alias = "failedChannelEntryIdentifier")]
    failed_conversation_entry_identifier: Option<String>,
    #[serde(default, deserialize_with = "lenient_opt_string")]
    error_code: Option<String>,
    #[serde(default)]
    error_message: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    entries: Vec<ParticipantChange>,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    channel_address_identifier: Option<String>,
    #[serde(default)]
    conversation_identifier: Option<String>,
    #[serde(default)]
    session_status: Option<String>,
    #[serde(default)]
    session_status_prev: Option<String>,
    #[serde(default)]
    session_ended_by_role: Option<String>,
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    session_start_time: Option<i64>,
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    session_end_time: Option<i64>,
    #[serde(default)]
    id: Option<String>,
}

impl EntryPayload {
    /// Types an entry body by its entry type. A known type with a body that does not match its
    /// schema is an error naming the type.
    pub fn parse(entry_type: &str, body: &Value) -> Result<Self, String> {
        Self::typed(entry_type, body)
            .map_err(|e| format!("{entry_type} entry: {}", crate::webhook::json_reason(&e)))
    }

    /// The one-pass reading of an entry body ([`crate::fast`]): `body` is the body read as an
    /// [`AnyBody`] (`None` when absent or `null`). Gives the typed body and the body's `id` (a
    /// string, else `None`) exactly as [`EntryPayload::parse`] and the tree give them, or
    /// `None` when the tree must decide (a body the type needs is missing).
    ///
    /// The entry types here are those of `typed`, which reads the tree.
    pub(crate) fn from_any(
        entry_type: &str,
        body: Option<AnyBody>,
    ) -> Option<(Self, Option<String>)> {
        let Some(b) = body else {
            return Some((Self::typed(entry_type, &Value::Null).ok()?, None));
        };
        let payload = match entry_type {
            "Message" => EntryPayload::Message {
                message: *b.abstract_message?,
                message_reason: b.message_reason,
            },
            "MessageUpdated" => EntryPayload::MessageUpdated {
                message: *b.updated_message?,
            },
            "TypingStartedIndicator" => EntryPayload::Typing { started: true },
            "TypingStoppedIndicator" => EntryPayload::Typing { started: false },
            "ReadAcknowledgement" | "DeliveryAcknowledgement" => EntryPayload::Acknowledgement {
                read: entry_type == "ReadAcknowledgement",
                acknowledged_entry: b.acknowledged_conversation_entry_identifier,
            },
            "MessageDeliveryFailed" => EntryPayload::DeliveryFailed {
                failed_entry: b.failed_conversation_entry_identifier,
                error_code: b.error_code,
                error_message: b.error_message,
            },
            "ParticipantChanged" => EntryPayload::ParticipantChanged { entries: b.entries },
            "SessionStatusChanged" => EntryPayload::SessionStatusChanged(SessionStatusChange {
                session_id: b.session_id,
                channel_address_identifier: b.channel_address_identifier,
                conversation_identifier: b.conversation_identifier,
                session_status: b.session_status?,
                session_status_prev: b.session_status_prev,
                session_ended_by_role: b.session_ended_by_role,
                session_start_time: b.session_start_time,
                session_end_time: b.session_end_time,
            }),
            _ => EntryPayload::Other,
        };
        Some((payload, b.id))
    }

    fn typed(entry_type: &str, body: &Value) -> serde_json::Result<Self> {
        Ok(match entry_type {
            "Message" => {
                let b: MessageBody = Deserialize::deserialize(body)?;
                EntryPayload::Message {
                    message: b.abstract_message,
                    message_reason: b.message_reason,
                }
            }
            "MessageUpdated" => {
                let b: UpdatedBody = Deserialize::deserialize(body)?;
                EntryPayload::MessageUpdated {
                    message: b.updated_message,
                }
            }
            "TypingStartedIndicator" => EntryPayload::Typing { started: true },
            "TypingStoppedIndicator" => EntryPayload::Typing { started: false },
            "ReadAcknowledgement" | "DeliveryAcknowledgement" => {
                let b: AckBody = Deserialize::deserialize(body)?;
                EntryPayload::Acknowledgement {
                    read: entry_type == "ReadAcknowledgement",
                    acknowledged_entry: b.acknowledged_conversation_entry_identifier,
                }
            }
            "MessageDeliveryFailed" => {
                let b: FailedBody = Deserialize::deserialize(body)?;
                EntryPayload::DeliveryFailed {
                    failed_entry: b.failed_conversation_entry_identifier,
                    error_code: b.error_code,
                    error_message: b.error_message,
                }
            }
            "ParticipantChanged" => {
                let b: ParticipantsBody = Deserialize::deserialize(body)?;
                EntryPayload::ParticipantChanged { entries: b.entries }
            }
            "SessionStatusChanged" => {
                EntryPayload::SessionStatusChanged(Deserialize::deserialize(body)?)
            }
            _ => EntryPayload::Other,
        })
    }
}

/// The `payload` of a `RoutingRequested` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutingRequestedPayload {
    /// The conversation.
    #[serde(default)]
    pub conversation_identifier: Option<String>,
    /// `Initial`, `Transfer`, `Conference`.
    #[serde(default)]
    pub routing_type: Option<String>,
    /// The work record.
    #[serde(default)]
    pub work_record_id: Option<String>,
    /// Queue, flow, skills, `channelData` (a JSON string whose `eventId` is the AgentWork
    /// `routingCorrelationId`), ...
    #[serde(default)]
    pub routing_parameters: Value,
}

impl RoutingRequestedPayload {
    /// `channelData.eventId`: the `routingCorrelationId` to send with AgentWork.
    pub fn routing_event_id(&self) -> Option<String> {
        let data = self.routing_parameters.get("channelData")?.as_str()?;
        let v: Value = serde_json::from_str(data).ok()?;
        v.get("eventId")?.as_str().map(str::to_string)
    }
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// An integer that may come as a JSON number or a numeric string.
fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    lenient_opt_i64(d)?.ok_or_else(|| serde::de::Error::custom("expected an integer"))
}

pub(crate) fn lenient_opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("integer out of range")),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| serde::de::Error::custom("expected an integer")),
        Some(_) => Err(serde::de::Error::custom("expected an integer")),
    }
}

fn lenient_opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(serde::de::Error::custom("expected a string")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn interaction_serializes_as_the_reference_shows() {
        let req = InteractionRequest {
            to: "chan".into(),
            from: "user".into(),
            routing_attributes: BTreeMap::new(),
            interactions: vec![Interaction::EntryInteraction {
                timestamp: 1688190840000,
                payload: InboundEntry::Message {
                    id: "e1".into(),
                    abstract_message: AbstractMessage {
                        message_type: "StaticContentMessage".into(),
                        id: "e1".into(),
                        static_content: Some(StaticContent::text("Hi there")),
                        in_reply_to_message_id: None,
                    },
                },
            }],
        };
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({"to": "chan", "from": "user", "interactions": [{
                "interactionType": "EntryInteraction", "timestamp": 1688190840000i64,
                "payload": {"entryType": "Message", "id": "e1", "abstractMessage": {
                    "messageType": "StaticContentMessage", "id": "e1",
                    "staticContent": {"formatType": "Text", "text": "Hi there"}}}}]})
        );
        let att = Interaction::AttachmentInteraction {
            timestamp: 1,
            id: "a".into(),
            attachment_index: 0,
            content_length: 5,
            text: None,
        };
        assert_eq!(
            serde_json::to_value(&att).unwrap(),
            json!({"interactionType": "AttachmentInteraction", "timestamp": 1, "id": "a",
                   "attachmentIndex": 0, "contentLength": 5})
        );
    }

    #[test]
    fn lenient_numbers_and_errors() {
        let e: ApiError = serde_json::from_value(json!({"code": "10004", "message": "m"})).unwrap();
        assert_eq!(e.code, 10004);
        assert!(serde_json::from_value::<ApiError>(json!({"code": true})).is_err());
        let p = EntryPayload::parse(
            "MessageDeliveryFailed",
            &json!({"errorCode": 42, "failedChannelEntryIdentifier": "x"}),
        )
        .unwrap();
        assert_eq!(
            p,
            EntryPayload::DeliveryFailed {
                failed_entry: Some("x".into()),
                error_code: Some("42".into()),
                error_message: None
            }
        );
        assert!(EntryPayload::parse("Message", &json!({"abstractMessage": 3})).is_err());
        assert_eq!(
            EntryPayload::parse("QueuePosition", &json!({})).unwrap(),
            EntryPayload::Other
        );
    }

    #[test]
    fn routing_event_id_from_channel_data() {
        let p: RoutingRequestedPayload = serde_json::from_value(json!({
            "conversationIdentifier": "c",
            "routingParameters": {"channelData": "{\"eventId\":\"ev-1\"}"}
        }))
        .unwrap();
        assert_eq!(p.routing_event_id().as_deref(), Some("ev-1"));
    }
}
