//! HTTP routes. Handlers keep nothing between requests: sessions are read
//! from and written to the cache cluster, products go through the
//! cache-aside and write-through helpers.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::db::Product;
use crate::{App, PRODUCT_TTL, SESSION_TTL};

type Shared = State<Arc<App>>;

/// The application's routes.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/cart/{product}", post(add_to_cart))
        .route("/products/{id}", get(get_product).put(put_product))
        .with_state(app)
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, Json(json!({ "error": message.to_string() }))).into_response()
}

fn session_key(id: &str) -> String {
    format!("session:{id}")
}

/// The session id from the `session` cookie or the `x-session` header.
fn session_of(headers: &HeaderMap) -> Option<String> {
    if let Some(id) = headers.get("x-session").and_then(|v| v.to_str().ok()) {
        return Some(id.to_string());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .find_map(|c| c.trim().strip_prefix("session=").map(String::from))
}

async fn healthz(State(app): Shared) -> Response {
    Json(json!({ "instance": app.instance })).into_response()
}

async fn login(State(app): Shared, Query(query): Query<HashMap<String, String>>) -> Response {
    let Some(user) = query.get("user").filter(|u| !u.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "user is required");
    };
    let id = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
    let key = session_key(&id);
    let stored = async {
        app.cache.hset(&key, &[("user", user)]).await?;
        app.cache.expire(&key, SESSION_TTL).await
    };
    if let Err(e) = stored.await {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("session store: {e}"),
        );
    }
    (
        [(
            header::SET_COOKIE,
            format!("session={id}; Path=/; HttpOnly"),
        )],
        Json(json!({ "session": id, "user": user, "instance": app.instance })),
    )
        .into_response()
}

/// The session's fields, refreshing its TTL (sliding expiry); `None` if
/// there is no such session.
async fn load_session(
    app: &App,
    headers: &HeaderMap,
) -> Result<(String, HashMap<String, Value>), Response> {
    let Some(id) = session_of(headers) else {
        return Err(error(StatusCode::UNAUTHORIZED, "no session"));
    };
    let key = session_key(&id);
    let fields: HashMap<String, Value> = app.cache.hgetall(&key).await.map_err(|e| {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("session store: {e}"),
        )
    })?;
    if fields.is_empty() {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "session expired or unknown",
        ));
    }
    let _ = app.cache.expire(&key, SESSION_TTL).await;
    Ok((key, fields))
}

async fn me(State(app): Shared, headers: HeaderMap) -> Response {
    let (_, fields) = match load_session(&app, &headers).await {
        Ok(s) => s,
        Err(response) => return response,
    };
    let cart: HashMap<&str, &Value> = fields
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("cart:").map(|p| (p, v)))
        .collect();
    Json(json!({
        "user": fields.get("user"),
        "cart": cart,
        "instance": app.instance,
    }))
    .into_response()
}

async fn add_to_cart(State(app): Shared, headers: HeaderMap, Path(product): Path<i64>) -> Response {
    let (key, _) = match load_session(&app, &headers).await {
        Ok(s) => s,
        Err(response) => return response,
    };
    match app.cache.hincrby(&key, format!("cart:{product}"), 1).await {
        Ok(count) => Json(json!({ "product": product, "count": count, "instance": app.instance }))
            .into_response(),
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("session store: {e}"),
        ),
    }
}

async fn get_product(State(app): Shared, Path(id): Path<i64>) -> Response {
    let db = app.db.clone();
    let loaded = app
        .products
        .get_or_load(&format!("product:{id}"), PRODUCT_TTL, move || async move {
            db.product(id).await
        })
        .await;
    match loaded {
        Ok(Some(product)) => {
            Json(json!({ "product": product, "instance": app.instance })).into_response()
        }
        Ok(None) => error(StatusCode::NOT_FOUND, "no such product"),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn put_product(
    State(app): Shared,
    Path(id): Path<i64>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let (Some(name), Some(price)) = (
        query.get("name"),
        query.get("price_cents").and_then(|p| p.parse().ok()),
    ) else {
        return error(StatusCode::BAD_REQUEST, "name and price_cents are required");
    };
    let product = Product {
        id,
        name: name.clone(),
        price_cents: price,
    };
    let db = app.db.clone();
    let saved = product.clone();
    let written = app
        .writes
        .write(
            &format!("product:{id}"),
            &product,
            PRODUCT_TTL,
            async move { db.save(saved).await },
        )
        .await;
    match written {
        Ok(_) => Json(json!({ "product": product, "instance": app.instance })).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}
