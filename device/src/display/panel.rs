//! The SPI panel controllers the kiosk drives, by name. Plain data, built on
//! every platform, so the configuration is checked where it is read even on
//! a machine without the SPI backend ([`super::spi_panel`]).

/// The panel controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum PanelModel {
    /// Sitronix ST7789 (240×320 frame memory), RGB565, colours usually inverted.
    St7789,
    /// Ilitek ILI9341 (240×320), RGB565, usually BGR subpixel order.
    Ili9341,
    /// Ilitek ILI9486 (320×480), RGB666 over SPI, usually BGR.
    Ili9486,
}

impl PanelModel {
    /// The controller's frame memory in its native (portrait) orientation.
    pub fn native_size(self) -> (u32, u32) {
        match self {
            PanelModel::St7789 | PanelModel::Ili9341 => (240, 320),
            PanelModel::Ili9486 => (320, 480),
        }
    }

    /// Colour inversion and BGR order, as most modules sold with this
    /// controller need.
    pub(crate) fn defaults(self) -> (bool, bool) {
        match self {
            PanelModel::St7789 => (true, false),
            PanelModel::Ili9341 | PanelModel::Ili9486 => (false, true),
        }
    }
}

impl std::str::FromStr for PanelModel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "st7789" => Ok(Self::St7789),
            "ili9341" => Ok(Self::Ili9341),
            "ili9486" => Ok(Self::Ili9486),
            other => Err(format!(
                "unknown panel `{other}` (st7789, ili9341, ili9486)"
            )),
        }
    }
}

impl TryFrom<String> for PanelModel {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_whatever_their_case() {
        assert_eq!("ILI9486".parse(), Ok(PanelModel::Ili9486));
        assert_eq!("st7789".parse(), Ok(PanelModel::St7789));
        let err = "ssd1306".parse::<PanelModel>().unwrap_err();
        assert!(err.contains("st7789, ili9341, ili9486"), "{err}");
    }
}
