//! Masking of personal numbers in everything the app hands out: any JSON member named
//! `id_number` or `phone` holding a string is masked (ID: first 4 + last 4; phone: 3 + 4), and
//! so are the numbers written inside any `text` member.
//! Views are masked as a whole, so a new field or event type cannot leak by omission.
use fengqiao_domain::validate::{mask_middle, mask_numbers_in_text};
use serde_json::Value;

pub fn mask_personal(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                match (k.as_str(), &child) {
                    ("id_number", Value::String(s)) => *child = Value::String(mask_middle(s, 4, 4)),
                    ("phone", Value::String(s)) => *child = Value::String(mask_middle(s, 3, 4)),
                    // Numbers citizens type into their account of the dispute.
                    ("text", Value::String(s)) => *child = Value::String(mask_numbers_in_text(s)),
                    _ => mask_personal(child),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_personal),
        _ => {}
    }
}
