//! The demo's home page as a person uses it (examples/demo/pages.rs): the login form, "Signed
//! in as", the logout button, and the table of the user's sessions with a revoke button on each
//! row but the current one. Every action goes through the page's own forms.

use super::browser::Browser;

/// The login form, shown when signed out.
const LOGIN_FORM: &str = r#"form[action="/login"]"#;
/// The rows of the "Your sessions" table (the table after its heading), without the header.
const DEVICE_ROWS: &str = "h2 + table tr:has(td)";

/// One row of the "Your sessions" table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The session's public id.
    pub id: String,
    /// Marked "this device" (no revoke button).
    pub current: bool,
}

impl Browser {
    /// Loads the home page at `base` and signs in through its form: types the name and the
    /// password, presses "Log in", and waits for "Signed in as `user`".
    pub async fn log_in(&self, base: &str, user: &str, password: &str) {
        self.goto(&format!("{base}/")).await;
        self.wait_for(LOGIN_FORM).await;
        let field = |name: &str| format!(r#"{LOGIN_FORM} input[name="{name}"]"#);
        let name_input = self.wait_for(&field("username")).await;
        name_input
            .send_keys(user)
            .await
            .expect("type the user name");
        let password_input = self.wait_for(&field("password")).await;
        password_input
            .send_keys(password)
            .await
            .expect("type the password");
        let button = self.wait_for(&format!("{LOGIN_FORM} button")).await;
        self.click_to_leave(&button).await;
        assert_eq!(
            self.signed_in_as().await.as_deref(),
            Some(user),
            "after logging in as {user}, the page says: {}",
            self.text().await
        );
    }

    /// Presses "Log out" and waits for the next page, which must be the login form.
    pub async fn log_out(&self) {
        let button = self.wait_for(r#"form[action="/logout"] button"#).await;
        self.click_to_leave(&button).await;
        assert!(
            self.shows_login_form().await,
            "after logging out, the page says: {}",
            self.text().await
        );
    }

    /// The user the loaded page says is signed in, if it says so.
    pub async fn signed_in_as(&self) -> Option<String> {
        let text = self.text().await;
        let line = text
            .lines()
            .find(|line| line.starts_with("Signed in as "))?;
        Some(
            line["Signed in as ".len()..]
                .trim_end_matches('.')
                .to_owned(),
        )
    }

    /// Whether the loaded page is the signed-out home page: the login form, and nobody named as
    /// signed in.
    pub async fn shows_login_form(&self) -> bool {
        self.has(LOGIN_FORM).await && self.signed_in_as().await.is_none()
    }

    /// The id of the session the loaded page shows as its own (the first table).
    pub async fn own_session_id(&self) -> String {
        let code = self.wait_for("table:first-of-type td code").await;
        code.text().await.expect("the session id")
    }

    /// The rows of the "Your sessions" table on the loaded page.
    pub async fn devices(&self) -> Vec<Device> {
        let mut devices = Vec::new();
        for row in self.find_all(DEVICE_ROWS).await {
            let cells = row
                .find_all(fantoccini::Locator::Css("td"))
                .await
                .expect("the row's cells");
            let id = cells[0].text().await.expect("the id");
            let last = cells.last().expect("cells").text().await.expect("text");
            devices.push(Device {
                id,
                current: last == "this device",
            });
        }
        devices
    }

    /// Presses the revoke button of session `id`'s row and waits for the page that follows.
    pub async fn revoke(&self, id: &str) {
        let button = self
            .wait_for(&format!(r#"form[action="/sessions/{id}/revoke"] button"#))
            .await;
        self.click_to_leave(&button).await;
    }
}
