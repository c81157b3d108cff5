//! Bootstrap only: the handler SDK's runtime with [`audit::handler::Audit`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    patrol_handler::run(audit::handler::Audit::default()).await
}
