//! `mergebench agent`'s flags: the reference agent, as it runs inside a container.

use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct AgentArgs {
    /// The problem statement.
    #[arg(
        long,
        env = "MERGEBENCH_PROBLEM",
        default_value = "/mergebench/problem.md"
    )]
    pub problem: PathBuf,
    /// The repository to change; commands run here.
    #[arg(long, env = "MERGEBENCH_WORKSPACE", default_value = ".")]
    pub workspace: PathBuf,
    /// Where usage.json and trajectory.jsonl are written.
    #[arg(long, env = "MERGEBENCH_OUT", default_value = "/mergebench/out")]
    pub out: PathBuf,
    /// The endpoint, up to and including /v1 (e.g. http://localhost:11434/v1 for Ollama).
    #[arg(
        long,
        env = "MERGEBENCH_AGENT_BASE_URL",
        default_value = "https://api.openai.com/v1"
    )]
    pub base_url: String,
    /// The model name the endpoint knows (e.g. gpt-4.1, qwen2.5-coder:32b).
    #[arg(long, env = "MERGEBENCH_AGENT_MODEL")]
    pub model: String,
    /// The name of the variable that holds the API key (the key itself never goes on a
    /// command line). Unset or empty: no Authorization header, as local servers expect.
    #[arg(
        long,
        env = "MERGEBENCH_AGENT_API_KEY_ENV",
        default_value = "OPENAI_API_KEY"
    )]
    pub api_key_env: String,
    /// Model calls over the run.
    #[arg(long, env = "MERGEBENCH_AGENT_MAX_STEPS", default_value_t = 50)]
    pub max_steps: u32,
    /// Input plus output tokens over the run.
    #[arg(long, env = "MERGEBENCH_AGENT_MAX_TOKENS", default_value_t = 2_000_000)]
    pub max_tokens: u64,
    /// USD over the run; 0 for no limit.
    #[arg(long, env = "MERGEBENCH_AGENT_MAX_COST", default_value_t = 5.0)]
    pub max_cost: f64,
    /// USD per million input tokens, when the endpoint does not report cost.
    #[arg(long, env = "MERGEBENCH_AGENT_INPUT_PRICE", default_value_t = 0.0)]
    pub input_price: f64,
    /// USD per million output tokens, when the endpoint does not report cost.
    #[arg(long, env = "MERGEBENCH_AGENT_OUTPUT_PRICE", default_value_t = 0.0)]
    pub output_price: f64,
    /// How long one shell command may run (e.g. 2m).
    #[arg(long, env = "MERGEBENCH_AGENT_COMMAND_TIMEOUT", default_value = "2m")]
    pub command_timeout: String,
    /// Sampling temperature (default: the endpoint's).
    #[arg(long, env = "MERGEBENCH_AGENT_TEMPERATURE")]
    pub temperature: Option<f64>,
}
