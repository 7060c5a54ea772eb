//! The differential run: seeded random requests, valid and invalid, over every
//! call and protocol, sent to both services and compared response by response.

use bytes::Bytes;
use http::Method;
use lab_proto::v1;
use serde_json::{Map, Value, json};

use super::model;
use crate::rng::Rng;
use crate::wire::client::{GrpcRequest, Request, RestBody, RestRequest};

/// `count` requests drawn from `seed`; the same seed always gives the same list.
pub fn requests(seed: u64, count: usize) -> Vec<Request> {
    let mut g = Generator {
        rng: Rng::new(seed),
        creates: 0,
    };
    (0..count).map(|_| g.next()).collect()
}

struct Generator {
    rng: Rng,
    /// Orders created so far (valid or not), to aim order reads near real ids.
    creates: i64,
}

impl Generator {
    fn next(&mut self) -> Request {
        match self.rng.below(100) {
            0..=9 => {
                let r = self.get_user();
                self.rest(r)
            }
            10..=17 => {
                let r = self.list_products();
                self.rest(r)
            }
            18..=35 => {
                let r = self.create_order();
                self.rest(r)
            }
            36..=41 => {
                let r = self.get_order();
                self.rest(r)
            }
            42..=53 => {
                let r = self.echo();
                self.rest(r)
            }
            54..=60 => Request::Grpc(GrpcRequest::GetUser(v1::GetUserRequest {
                id: self.id(model::USERS),
            })),
            61..=66 => {
                let r = self.page_request();
                Request::Grpc(if self.rng.percent(50) {
                    GrpcRequest::ListProducts(r)
                } else {
                    GrpcRequest::StreamProducts(r)
                })
            }
            67..=80 => Request::Grpc(GrpcRequest::CreateOrder(self.grpc_order())),
            81..=86 => Request::Grpc(GrpcRequest::GetOrder(v1::GetOrderRequest {
                id: self.order_id(),
            })),
            87..=93 => Request::Grpc(GrpcRequest::Echo(v1::EchoRequest {
                payload: self.bytes(),
            })),
            _ => {
                let n = self.rng.below(5) as usize;
                Request::Grpc(GrpcRequest::EchoStream(
                    (0..n)
                        .map(|_| v1::EchoRequest {
                            payload: self.bytes(),
                        })
                        .collect(),
                ))
            }
        }
    }

    /// Picks HTTP/1.1 or h2c at random.
    fn rest(&mut self, req: RestRequest) -> Request {
        Request::Rest(if self.rng.percent(30) { req.h2c() } else { req })
    }

    /// Mostly valid ids, with the edges and invalid values mixed in.
    fn id(&mut self, max: i64) -> i64 {
        match self.rng.below(10) {
            0 => *self.rng.pick(&[0, -1, max, max + 1, i64::MAX, i64::MIN]),
            _ => self.rng.range(1, max),
        }
    }

    fn path_id(&mut self, max: i64) -> String {
        if self.rng.percent(85) {
            return self.id(max).to_string();
        }
        let n = self.rng.range(1, max);
        match self.rng.below(8) {
            0 => format!("0{n}"),
            1 => format!("%3{}", n % 10),
            2 => format!("{n}a"),
            3 => format!("{n}.0"),
            4 => format!("-{n}"),
            5 => format!("{n}%2F1"),
            6 => "9223372036854775808".into(),
            _ => format!("{n}e2"),
        }
    }

    fn get_user(&mut self) -> RestRequest {
        let id = self.path_id(model::USERS);
        RestRequest::get(format!("/v1/users/{id}"))
    }

    fn get_order(&mut self) -> RestRequest {
        let id = if self.rng.percent(85) {
            self.order_id().to_string()
        } else {
            self.path_id(10)
        };
        RestRequest::get(format!("/v1/orders/{id}"))
    }

    fn order_id(&mut self) -> i64 {
        self.rng.range(-1, self.creates + 3)
    }

    fn query_value(&mut self, valid_max: i64) -> String {
        match self.rng.below(12) {
            0 => String::new(),
            1 => "-1".into(),
            2 => "abc".into(),
            3 => "%zz".into(),
            4 => "99999999999999999999".into(),
            5 => format!("+{}", self.rng.range(1, 9)),
            _ => self.rng.range(0, valid_max).to_string(),
        }
    }

    fn list_products(&mut self) -> RestRequest {
        let mut pairs = Vec::new();
        if self.rng.percent(70) {
            let v = self.query_value(1100);
            pairs.push(format!("limit={v}"));
        }
        if self.rng.percent(60) {
            let v = self.query_value(1100);
            pairs.push(format!("offset={v}"));
        }
        if self.rng.percent(10) {
            pairs.push("x;y=1".into());
        }
        if self.rng.percent(10) {
            pairs.push("limit=3".into());
        }
        let query = if pairs.is_empty() {
            String::new()
        } else {
            format!("?{}", pairs.join("&"))
        };
        RestRequest::get(format!("/v1/products{query}"))
    }

    fn page_request(&mut self) -> v1::ListProductsRequest {
        let pick = |rng: &mut Rng| match rng.below(6) {
            0 => None,
            1 => Some(*rng.pick(&[0, -1, 1001, i64::MAX, i64::MIN])),
            _ => Some(rng.range(1, 1000)),
        };
        let limit = pick(&mut self.rng);
        let offset = pick(&mut self.rng);
        v1::ListProductsRequest { limit, offset }
    }

    fn sku(&mut self) -> String {
        match self.rng.below(10) {
            0 => *self.rng.pick(&[
                "SKU-00000",
                "SKU-01001",
                "sku-00001",
                "",
                "SKU-1",
                "SKU-\u{e9}",
            ]),
            _ => return model::sku(self.rng.range(1, model::PRODUCTS)),
        }
        .to_string()
    }

    fn quantity(&mut self) -> i64 {
        match self.rng.below(10) {
            0 => *self.rng.pick(&[0, -1, 1001, i64::MAX]),
            _ => self.rng.range(1, 1000),
        }
    }

    fn item_count(&mut self) -> usize {
        match self.rng.below(20) {
            0 => 0,
            1 => 101,
            2 => 100,
            _ => self.rng.range(1, 5) as usize,
        }
    }

    fn grpc_order(&mut self) -> v1::CreateOrderRequest {
        self.creates += 1;
        let n = self.item_count();
        let items = (0..n)
            .map(|_| v1::OrderItemRequest {
                sku: self.sku(),
                quantity: self.quantity(),
            })
            .collect();
        v1::CreateOrderRequest {
            user_id: self.id(model::USERS),
            items,
        }
    }

    fn create_order(&mut self) -> RestRequest {
        self.creates += 1;
        let order = self.grpc_order();
        self.creates -= 1;
        let items: Vec<Value> = order
            .items
            .iter()
            .map(|i| json!({ "sku": i.sku, "quantity": i.quantity }))
            .collect();
        let mut doc = json!({ "user_id": order.user_id, "items": items });
        let body: Vec<u8> = match self.rng.below(20) {
            0..=12 => doc.to_string().into_bytes(),
            13 => self.break_field(&mut doc, "user_id").into_bytes(),
            14 => self.break_field(&mut doc, "items").into_bytes(),
            15 => {
                if let Some(first) = doc["items"].get_mut(0) {
                    let field = if self.rng.percent(50) {
                        "sku"
                    } else {
                        "quantity"
                    };
                    *first = Value::Object(broken(
                        first.as_object().cloned().unwrap_or_default(),
                        field,
                        &mut self.rng,
                    ));
                }
                doc.to_string().into_bytes()
            }
            16 => {
                // Cut at any byte, so the body may also end inside a UTF-8 sequence.
                let bytes = doc.to_string().into_bytes();
                let cut = self.rng.below(bytes.len() as u64) as usize;
                bytes[..cut].to_vec()
            }
            17 => format!("{doc} x").into_bytes(),
            18 => {
                doc["extra"] = self.json_value(2);
                doc.to_string().into_bytes()
            }
            _ => self.json_value(2).to_string().into_bytes(),
        };
        let req = RestRequest::json(Method::POST, "/v1/orders", body);
        self.with_content_type(req)
    }

    fn break_field(&mut self, doc: &mut Value, field: &str) -> String {
        let obj = doc.as_object().cloned().unwrap_or_default();
        Value::Object(broken(obj, field, &mut self.rng)).to_string()
    }

    /// Occasionally swaps the content type for a wrong or absent one.
    fn with_content_type(&mut self, req: RestRequest) -> RestRequest {
        match self.rng.below(25) {
            0 => {
                let mut req = req;
                req.headers.clear();
                req
            }
            1 => req.content_type("text/plain"),
            2 => req.content_type("application/json; charset=utf-8"),
            _ => req,
        }
    }

    fn echo(&mut self) -> RestRequest {
        let body: Bytes = match self.rng.below(20) {
            0 => Bytes::from_static(b"{\"a\":"),
            1 => Bytes::from_static(b"[1,2,]"),
            2 => Bytes::from(format!("{}{}", "[".repeat(128), "]".repeat(128))),
            3 => Bytes::from_static(b"\"\\ud834\""),
            _ => Bytes::from(self.json_value(4).to_string()),
        };
        let req = RestRequest::json(Method::POST, "/v1/echo", body.clone());
        let req = if self.rng.percent(10) {
            req.body(RestBody::Chunked(vec![body]))
        } else {
            req
        };
        self.with_content_type(req)
    }

    fn bytes(&mut self) -> Vec<u8> {
        let len = match self.rng.below(10) {
            0 => 0,
            1 => self.rng.range(1000, 70_000) as usize,
            _ => self.rng.range(1, 64) as usize,
        };
        (0..len).map(|_| self.rng.below(256) as u8).collect()
    }

    /// A random JSON value at most `depth` containers deep.
    fn json_value(&mut self, depth: u32) -> Value {
        let kinds = if depth == 0 { 5 } else { 7 };
        match self.rng.below(kinds) {
            0 => Value::Null,
            1 => Value::Bool(self.rng.percent(50)),
            2 => json!(self.rng.range(i64::MIN, i64::MAX) >> self.rng.below(64)),
            3 => json!(self.rng.range(-1_000_000, 1_000_000) as f64 / 64.0),
            4 => Value::String(self.string()),
            5 => Value::Array(
                (0..self.rng.below(5))
                    .map(|_| self.json_value(depth - 1))
                    .collect(),
            ),
            _ => {
                let mut map = Map::new();
                for _ in 0..self.rng.below(5) {
                    let key = self.string();
                    let value = self.json_value(depth - 1);
                    map.insert(key, value);
                }
                Value::Object(map)
            }
        }
    }

    fn string(&mut self) -> String {
        const PIECES: [&str; 12] = [
            "a", "user_id", "é", "\"", "\\", "<", "&", "\n", "\u{2028}", "😀", " ", "\u{1}",
        ];
        (0..self.rng.below(8))
            .map(|_| *self.rng.pick(&PIECES))
            .collect()
    }
}

/// `obj` with `field` removed, nulled, or given a value of the wrong type.
fn broken(mut obj: Map<String, Value>, field: &str, rng: &mut Rng) -> Map<String, Value> {
    let replacement = match rng.below(6) {
        0 => {
            obj.remove(field);
            return obj;
        }
        1 => Value::Null,
        2 => json!("7"),
        3 => json!(1.5),
        4 => json!([1]),
        _ => json!({}),
    };
    obj.insert(field.to_string(), replacement);
    obj
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_requests() {
        let a: Vec<String> = requests(9, 200).iter().map(|r| format!("{r:?}")).collect();
        let b: Vec<String> = requests(9, 200).iter().map(|r| format!("{r:?}")).collect();
        let c: Vec<String> = requests(10, 200).iter().map(|r| format!("{r:?}")).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn generating_never_panics() {
        for seed in 0..100 {
            assert_eq!(requests(seed, 500).len(), 500);
        }
    }

    #[test]
    fn covers_every_call_and_both_http_versions() {
        let calls: Vec<String> = requests(1, 600).iter().map(Request::call).collect();
        for needle in [
            "GET /v1/users/",
            "GET /v1/products",
            "POST /v1/orders",
            "GET /v1/orders/",
            "POST /v1/echo",
            "(HTTP/1.1)",
            "(h2c)",
            "UserService/GetUser",
            "CatalogService/ListProducts",
            "CatalogService/StreamProducts",
            "OrderService/CreateOrder",
            "OrderService/GetOrder",
            "EchoService/Echo",
            "EchoService/EchoStream",
        ] {
            assert!(
                calls.iter().any(|c| c.contains(needle)),
                "no request for {needle}"
            );
        }
    }

    #[test]
    fn mixes_valid_and_invalid_orders() {
        let bodies: Vec<Value> = requests(1, 600)
            .iter()
            .filter_map(|r| match r {
                Request::Rest(r) if r.path == "/v1/orders" => match &r.body {
                    RestBody::Full(b) => Some(serde_json::from_slice(b).unwrap_or(Value::Null)),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        assert!(bodies.iter().any(|b| {
            b.get("user_id")
                .and_then(Value::as_i64)
                .is_some_and(|u| (1..=10_000).contains(&u))
        }));
        assert!(bodies.iter().any(Value::is_null), "no malformed bodies");
        assert!(
            bodies
                .iter()
                .any(|b| b.is_object() && b.get("items").is_none_or(|i| !i.is_array()))
        );
    }
}
