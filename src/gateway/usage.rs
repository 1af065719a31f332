//! Usage measured from the provider's own responses, for each wire format the gateway knows,
//! whole or streamed as server-sent events, and what it costs (pure).

use super::config::Price;
use serde_json::Value;

/// The wire format of a request, from its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireApi {
    OpenaiChat,
    OpenaiResponses,
    AnthropicMessages,
    Other,
}

impl WireApi {
    pub fn from_path(path: &str) -> WireApi {
        let p = path.trim_end_matches('/');
        if p.ends_with("/chat/completions") {
            WireApi::OpenaiChat
        } else if p.ends_with("/responses") {
            WireApi::OpenaiResponses
        } else if p.ends_with("/messages") {
            WireApi::AnthropicMessages
        } else {
            WireApi::Other
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WireApi::OpenaiChat => "openai-chat",
            WireApi::OpenaiResponses => "openai-responses",
            WireApi::AnthropicMessages => "anthropic-messages",
            WireApi::Other => "other",
        }
    }
}

/// What one response says it used. Input counts every input token, cached ones included.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    pub model: Option<String>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cached_tokens: Option<i64>,
}

impl Usage {
    /// Input plus output, when either was measured.
    pub fn total(&self) -> Option<i64> {
        match (self.input_tokens, self.output_tokens) {
            (None, None) => None,
            (i, o) => Some(i.unwrap_or(0).saturating_add(o.unwrap_or(0))),
        }
    }
}

/// ((input − cached) × input + cached × cached_input + output × output) / 1e6 USD; None
/// without a price or without measured tokens.
pub fn cost(usage: &Usage, price: Option<&Price>) -> Option<f64> {
    let p = price?;
    if usage.input_tokens.is_none() && usage.output_tokens.is_none() {
        return None;
    }
    let input = usage.input_tokens.unwrap_or(0).max(0) as f64;
    let cached = (usage.cached_tokens.unwrap_or(0).max(0) as f64).min(input);
    let output = usage.output_tokens.unwrap_or(0).max(0) as f64;
    Some(
        ((input - cached) * p.input
            + cached * p.cached_input.unwrap_or(p.input)
            + output * p.output)
            / 1e6,
    )
}

fn int(v: &Value, pointer: &str) -> Option<i64> {
    v.pointer(pointer).and_then(Value::as_i64)
}

fn model_of(v: &Value) -> Option<String> {
    v.get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .map(str::to_string)
}

/// OpenAI chat completions (and other OpenAI endpoints that report prompt tokens).
fn chat_usage(u: &Value) -> Option<(i64, i64, i64)> {
    let input = int(u, "/prompt_tokens")?;
    let output = int(u, "/completion_tokens").unwrap_or(0);
    let cached = int(u, "/prompt_tokens_details/cached_tokens").unwrap_or(0);
    Some((input, output, cached))
}

/// OpenAI Responses.
fn responses_usage(u: &Value) -> Option<(i64, i64, i64)> {
    let input = int(u, "/input_tokens")?;
    let output = int(u, "/output_tokens").unwrap_or(0);
    let cached = int(u, "/input_tokens_details/cached_tokens").unwrap_or(0);
    Some((input, output, cached))
}

/// Anthropic's parts of a usage object, each as far as it was reported.
#[derive(Debug, Clone, Default)]
struct AnthropicParts {
    input: Option<i64>,
    cache_read: Option<i64>,
    cache_creation: Option<i64>,
    output: Option<i64>,
}

impl AnthropicParts {
    /// Later reports (`message_delta`) are cumulative: each field present replaces the last.
    fn update(&mut self, u: &Value) {
        let field = |name: &str| u.get(name).and_then(Value::as_i64);
        self.input = field("input_tokens").or(self.input);
        self.cache_read = field("cache_read_input_tokens").or(self.cache_read);
        self.cache_creation = field("cache_creation_input_tokens").or(self.cache_creation);
        self.output = field("output_tokens").or(self.output);
    }

    fn into_usage(self, model: Option<String>) -> Usage {
        let any = self.input.is_some() || self.output.is_some();
        let read = self.cache_read.unwrap_or(0);
        Usage {
            model,
            input_tokens: any.then(|| {
                self.input
                    .unwrap_or(0)
                    .saturating_add(read)
                    .saturating_add(self.cache_creation.unwrap_or(0))
            }),
            output_tokens: any.then(|| self.output.unwrap_or(0)),
            cached_tokens: any.then_some(read),
        }
    }
}

fn with(model: Option<String>, parts: Option<(i64, i64, i64)>) -> Usage {
    Usage {
        model,
        input_tokens: parts.map(|p| p.0),
        output_tokens: parts.map(|p| p.1),
        cached_tokens: parts.map(|p| p.2),
    }
}

/// Usage from a whole (not streamed) JSON response body.
pub fn from_body(api: WireApi, body: &[u8]) -> Usage {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Usage::default();
    };
    let usage = v.get("usage").filter(|u| u.is_object());
    match api {
        WireApi::OpenaiResponses => with(model_of(&v), usage.and_then(responses_usage)),
        WireApi::AnthropicMessages => {
            let mut parts = AnthropicParts::default();
            if let Some(u) = usage {
                parts.update(u);
            }
            parts.into_usage(model_of(&v))
        }
        WireApi::OpenaiChat | WireApi::Other => with(model_of(&v), usage.and_then(chat_usage)),
    }
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// Longest line or event data kept; anything longer is skipped, not buffered.
const MAX_LINE: usize = 16 << 20;

/// Server-sent events parsed incrementally from chunks split anywhere: inside a line,
/// between CR and LF, inside a UTF-8 character.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    line_too_long: bool,
    pending_cr: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
    data_too_long: bool,
}

impl SseParser {
    pub fn new() -> SseParser {
        SseParser::default()
    }

    /// Feeds a chunk; complete events are appended to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) {
        let mut rest = chunk;
        if self.pending_cr {
            self.pending_cr = false;
            if rest.first() == Some(&b'\n') {
                rest = &rest[1..];
            }
        }
        while let Some(i) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.extend(&rest[..i]);
            self.end_line(out);
            let cr = rest[i] == b'\r';
            rest = &rest[i + 1..];
            if cr {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                    None => self.pending_cr = true,
                }
            }
        }
        self.extend(rest);
    }

    /// The end of the stream: a last line without its terminator, and a last event without
    /// its blank line, still count.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        if !self.line.is_empty() || self.line_too_long {
            self.end_line(out);
        }
        self.dispatch(out);
    }

    fn extend(&mut self, bytes: &[u8]) {
        if self.line.len() + bytes.len() > MAX_LINE {
            self.line_too_long = true;
            self.line.clear();
        } else if !self.line_too_long {
            self.line.extend_from_slice(bytes);
        }
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) {
        let line = std::mem::take(&mut self.line);
        if std::mem::take(&mut self.line_too_long) {
            self.data_too_long = true;
            return;
        }
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (&line[..], &b""[..]),
        };
        match field {
            b"data" => {
                if self.data.len() + value.len() + 1 > MAX_LINE {
                    self.data_too_long = true;
                    return;
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&String::from_utf8_lossy(value));
                self.has_data = true;
            }
            b"event" => self.event = Some(String::from_utf8_lossy(value).into_owned()),
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event = self.event.take();
        let data = std::mem::take(&mut self.data);
        let has = std::mem::take(&mut self.has_data);
        if std::mem::take(&mut self.data_too_long) {
            return;
        }
        if has {
            out.push(SseEvent { event, data });
        }
    }
}

/// Usage measured from a streamed (SSE) response as its chunks pass.
#[derive(Debug)]
pub struct StreamMeter {
    api: WireApi,
    parser: SseParser,
    events: Vec<SseEvent>,
    model: Option<String>,
    parts: Option<(i64, i64, i64)>,
    anthropic: AnthropicParts,
}

impl StreamMeter {
    pub fn new(api: WireApi) -> StreamMeter {
        StreamMeter {
            api,
            parser: SseParser::new(),
            events: Vec::new(),
            model: None,
            parts: None,
            anthropic: AnthropicParts::default(),
        }
    }

    pub fn push(&mut self, chunk: &[u8]) {
        let mut events = std::mem::take(&mut self.events);
        self.parser.push(chunk, &mut events);
        for e in events.drain(..) {
            self.apply(&e);
        }
        self.events = events;
    }

    /// The usage once the stream has ended (or as far as it went).
    pub fn finish(mut self) -> Usage {
        let mut events = Vec::new();
        self.parser.finish(&mut events);
        for e in &events {
            self.apply(e);
        }
        match self.api {
            WireApi::AnthropicMessages => self.anthropic.into_usage(self.model),
            _ => with(self.model, self.parts),
        }
    }

    fn apply(&mut self, e: &SseEvent) {
        let data = e.data.trim();
        if data.is_empty() || data == "[DONE]" {
            return;
        }
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            return;
        };
        match self.api {
            WireApi::OpenaiChat | WireApi::Other => {
                if self.model.is_none() {
                    self.model = model_of(&v);
                }
                if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
                    self.parts = chat_usage(u).or(self.parts);
                }
            }
            WireApi::OpenaiResponses => {
                if let Some(r) = v.get("response") {
                    if let Some(m) = model_of(r) {
                        self.model = Some(m);
                    }
                    if let Some(u) = r.get("usage").filter(|u| u.is_object()) {
                        self.parts = responses_usage(u).or(self.parts);
                    }
                }
            }
            WireApi::AnthropicMessages => {
                let kind = v.get("type").and_then(Value::as_str).or(e.event.as_deref());
                match kind {
                    Some("message_start") => {
                        if let Some(m) = v.get("message") {
                            self.model = model_of(m).or(self.model.take());
                            if let Some(u) = m.get("usage").filter(|u| u.is_object()) {
                                self.anthropic.update(u);
                            }
                        }
                    }
                    Some("message_delta") => {
                        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
                            self.anthropic.update(u);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_splits(body: &str, api: WireApi) -> Usage {
        let whole = {
            let mut m = StreamMeter::new(api);
            m.push(body.as_bytes());
            m.finish()
        };
        // Every split point, and byte by byte, gives the same answer.
        for i in 0..=body.len() {
            let mut m = StreamMeter::new(api);
            m.push(&body.as_bytes()[..i]);
            m.push(&body.as_bytes()[i..]);
            assert_eq!(m.finish(), whole, "split at {i}");
        }
        let mut m = StreamMeter::new(api);
        for b in body.as_bytes() {
            m.push(std::slice::from_ref(b));
        }
        assert_eq!(m.finish(), whole, "byte by byte");
        whole
    }

    fn u(model: &str, i: i64, o: i64, c: i64) -> Usage {
        Usage {
            model: Some(model.into()),
            input_tokens: Some(i),
            output_tokens: Some(o),
            cached_tokens: Some(c),
        }
    }

    #[test]
    fn sse_lines_split_anywhere_with_crlf() {
        let body =
            ": comment\r\nevent: a\r\ndata: one\r\ndata:two\r\n\r\ndata: é\rid: 1\r\rdata: x";
        let mut want = Vec::new();
        SseParser::new().push(body.as_bytes(), &mut want);
        assert_eq!(
            want,
            vec![
                SseEvent {
                    event: Some("a".into()),
                    data: "one\ntwo".into()
                },
                SseEvent {
                    event: None,
                    data: "é".into()
                }
            ]
        );
        for i in 0..=body.len() {
            let mut p = SseParser::new();
            let mut got = Vec::new();
            p.push(&body.as_bytes()[..i], &mut got);
            p.push(&body.as_bytes()[i..], &mut got);
            assert_eq!(got, want, "split at {i}");
            p.finish(&mut got);
            assert_eq!(got.last().unwrap().data, "x");
        }
    }

    #[test]
    fn openai_chat() {
        let body = br#"{"id":"c","model":"gpt-4o-2024","choices":[],"usage":{"prompt_tokens":120,"completion_tokens":30,"prompt_tokens_details":{"cached_tokens":100}}}"#;
        assert_eq!(
            from_body(WireApi::OpenaiChat, body),
            u("gpt-4o-2024", 120, 30, 100)
        );
        let stream = "data: {\"model\":\"m1\",\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n\
                      data: {\"model\":\"m1\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3}}\n\n\
                      data: [DONE]\n\n";
        assert_eq!(all_splits(stream, WireApi::OpenaiChat), u("m1", 7, 3, 0));
    }

    #[test]
    fn openai_responses() {
        let body = br#"{"model":"gpt-5","usage":{"input_tokens":50,"output_tokens":9,"input_tokens_details":{"cached_tokens":40}}}"#;
        assert_eq!(
            from_body(WireApi::OpenaiResponses, body),
            u("gpt-5", 50, 9, 40)
        );
        let stream = "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"model\":\"gpt-5\",\"usage\":null}}\n\n\
                      event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"x\"}\n\n\
                      event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"model\":\"gpt-5\",\"usage\":{\"input_tokens\":11,\"output_tokens\":4,\"input_tokens_details\":{\"cached_tokens\":2}}}}\n\n";
        assert_eq!(
            all_splits(stream, WireApi::OpenaiResponses),
            u("gpt-5", 11, 4, 2)
        );
    }

    #[test]
    fn anthropic_messages() {
        let body = br#"{"model":"claude-x","usage":{"input_tokens":10,"cache_read_input_tokens":100,"cache_creation_input_tokens":5,"output_tokens":20}}"#;
        assert_eq!(
            from_body(WireApi::AnthropicMessages, body),
            u("claude-x", 115, 20, 100)
        );
        let stream = "event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-x\",\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":3,\"cache_creation_input_tokens\":0,\"output_tokens\":1}}}\r\n\r\n\
                      event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"hi\"}}\r\n\r\n\
                      event: message_delta\r\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":15}}\r\n\r\n\
                      event: message_delta\r\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":25}}\r\n\r\n\
                      event: message_stop\r\ndata: {\"type\":\"message_stop\"}\r\n\r\n";
        assert_eq!(
            all_splits(stream, WireApi::AnthropicMessages),
            u("claude-x", 13, 25, 3)
        );
    }

    #[test]
    fn garbage_measures_nothing() {
        assert_eq!(
            from_body(WireApi::OpenaiChat, b"{not json"),
            Usage::default()
        );
        let mut m = StreamMeter::new(WireApi::AnthropicMessages);
        m.push(b"data: {\"type\":\"message_start\",\"message\":7}\n\ndata: [[[\n\n");
        assert_eq!(m.finish(), Usage::default());
    }

    #[test]
    fn cost_counts_cached_input_at_its_price() {
        let p = Price {
            input: 2.0,
            output: 10.0,
            cached_input: Some(0.5),
        };
        let c = cost(&u("m", 1_000_000, 100_000, 400_000), Some(&p)).unwrap();
        assert!(
            (c - (0.6 * 2.0 + 0.4 * 0.5 + 0.1 * 10.0)).abs() < 1e-9,
            "{c}"
        );
        let p = Price {
            cached_input: None,
            ..p
        };
        let c = cost(&u("m", 1_000_000, 0, 400_000), Some(&p)).unwrap();
        assert!((c - 2.0).abs() < 1e-9);
        assert_eq!(cost(&Usage::default(), Some(&p)), None);
        assert_eq!(cost(&u("m", 1, 1, 0), None), None);
    }

    #[test]
    fn paths() {
        assert_eq!(
            WireApi::from_path("/v1/chat/completions"),
            WireApi::OpenaiChat
        );
        assert_eq!(
            WireApi::from_path("/v1/responses"),
            WireApi::OpenaiResponses
        );
        assert_eq!(
            WireApi::from_path("/v1/messages/"),
            WireApi::AnthropicMessages
        );
        assert_eq!(WireApi::from_path("/v1/models"), WireApi::Other);
    }
}
