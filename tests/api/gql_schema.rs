//! The committed SDL matches the schema the code builds.

#[test]
fn committed_sdl_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("graphql/schema.graphql");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let current = graphql::sdl();
    if committed != current {
        if std::env::var_os("UPDATE_SDL").is_some() {
            std::fs::write(&path, &current).unwrap();
            return;
        }
        panic!(
            "graphql/schema.graphql is out of date with the code; regenerate it with \
             UPDATE_SDL=1 cargo nextest run committed_sdl_matches_the_code"
        );
    }
}
