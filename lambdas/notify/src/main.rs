//! Bootstrap only: the handler SDK's runtime with [`notify::Notify`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    patrol_handler::run(notify::Notify).await
}
