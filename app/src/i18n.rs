//! The one translation catalogue: the UI and (later) the report e-mail read from it.
//!
//! Every key yields its three translations from one `match` arm, so a missing translation is a
//! compile error rather than a blank on screen. Spanish follows the wording of the original
//! OVH IMAPCopy guide where the guide has one.
//!
//! Hand-written instead of `leptos_i18n`: the catalogue is also needed outside Leptos (the
//! report is rendered in the job runner), and a plain `match` keeps it a zero-dependency table.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Lang {
    #[default]
    En,
    Es,
    Fr,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::En, Lang::Es, Lang::Fr];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
            Lang::Fr => "fr",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        let primary = code.trim().split(['-', '_']).next().unwrap_or("");
        match primary.to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "es" => Some(Lang::Es),
            "fr" => Some(Lang::Fr),
            _ => None,
        }
    }

    /// Picks the best supported language from an `Accept-Language` header value
    /// (highest q first; ties keep header order); `None` when nothing matches.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(f32, usize, Lang)> = None;
        for (index, part) in header.split(',').enumerate() {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("").trim();
            let mut q = 1.0f32;
            for param in pieces {
                if let Some(value) = param.trim().strip_prefix("q=") {
                    q = value.trim().parse().unwrap_or(0.0);
                }
            }
            if q <= 0.0 {
                continue;
            }
            if let Some(lang) = Lang::from_code(tag) {
                let better = match best {
                    None => true,
                    Some((bq, bi, _)) => q > bq || (q == bq && index < bi),
                };
                if better {
                    best = Some((q, index, lang));
                }
            }
        }
        best.map(|(_, _, lang)| lang)
    }

    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Es => "Español",
            Lang::Fr => "Français",
        }
    }
}

/// Catalogue keys. Texts with `{name}` placeholders are filled with [`fill`].
///
/// Keys under `#[cfg(feature = "ssr")]` are texts only the server renders (the report e-mail,
/// the sign-in's hand-back page): they stay out of the WASM bundle. A key that a wire type can
/// carry to the browser (a field error, for one) must not be among them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum T {
    AppTagline,
    StepSource,
    StepDestination,
    Service,
    Login,
    LoginHelp,
    Password,
    PasswordKept,
    ImapServer,
    Ssl,
    SslHelp,
    Validate,
    Accept,
    Checking,
    ConnectionEstablished,
    FoldersMessages,
    ValidationFailed,
    FieldRequired,
    FieldTooLong,
    FieldControlChars,
    FieldInvalidHost,
    FieldInvalidPort,
    FieldUnknownPreset,
    OtherService,
    PresetNeedsOauth,
    PresetNote,
    SessionExpired,
    InternalError,
    TooManyRequests,
    BadRequest,
    RequestTooLarge,
    PageNotFound,
    SyncErrorGeneral,
    // Causes, shown before the English detail.
    CauseAuth,
    CauseHostNotFound,
    CauseNotAllowed,
    CauseRefused,
    CauseTimeout,
    CauseTls,
    CauseCertificate,
    CauseNotTls,
    CauseNoGreeting,
    CauseStartTls,
    CauseClosed,
    CauseProtocol,
    CauseTokenRefused,
    CauseSignInDenied,
    CauseSignInFailed,
    CauseMissingScope,
    CauseWrongAccount,
    CauseSignInNotEnabled,
    CauseImapDisabled,
    SignInWith,
    SignedInWith,
    SignInOr,
    PresetOauthNotEnabled,
    #[cfg(feature = "ssr")]
    SignInReturning,
    #[cfg(feature = "ssr")]
    SignInContinue,
    #[cfg(feature = "ssr")]
    SignInLinkInvalid,
    StateWaitingForSignIn,
    SignInAgainWhy,
    SignInAgain,
    #[cfg(feature = "ssr")]
    BackToJob,
    Language,
    Footer,
    Synchronize,
    SyncQueued,
    PrivateLink,
    StatusHeading,
    SourceAddress,
    Send,
    StateNotStarted,
    StateRunning,
    StatePausedUntil,
    StateFinished,
    StateFailed,
    StateUnknown,
    StateAmbiguous,
    JobHeading,
    ProgressMessages,
    ProgressBytes,
    ProgressCounting,
    CurrentFolder,
    TableCaption,
    TableFolder,
    TableDestination,
    TableSource,
    TableAtDestination,
    TableCopied,
    TablePresent,
    TableSkipped,
    TableRejected,
    OutcomeComplete,
    OutcomeRejections,
    OutcomeIncomplete,
    ReportState,
    #[cfg(feature = "ssr")]
    BackHome,
    Advanced,
    Rate,
    Eta,
    ReportPending,
    ReportSent,
    ReportFailed,
    ReportTo,
    ReportToHelp,
    ReportToInvalid,
    Port,
    PortHelp,
    AllowPlaintext,
    #[cfg(feature = "ssr")]
    ReportSubjectFinished,
    #[cfg(feature = "ssr")]
    ReportSubjectFailed,
    #[cfg(feature = "ssr")]
    ReportSource,
    #[cfg(feature = "ssr")]
    ReportDestination,
    #[cfg(feature = "ssr")]
    ReportStarted,
    #[cfg(feature = "ssr")]
    PreflightGmailNoAllMail,
    #[cfg(feature = "ssr")]
    PreflightDailyUpload,
    #[cfg(feature = "ssr")]
    PreflightDailyDownload,
    #[cfg(feature = "ssr")]
    PreflightLabelsLegend,
    #[cfg(feature = "ssr")]
    PreflightLabelsFolders,
    #[cfg(feature = "ssr")]
    PreflightLabelsFoldersHint,
    #[cfg(feature = "ssr")]
    PreflightLabelsOneCopy,
    #[cfg(feature = "ssr")]
    PreflightLabelsOneCopyHint,
    AttemptsHeading,
    #[cfg(feature = "ssr")]
    AttemptLine,
    #[cfg(feature = "ssr")]
    AttemptFinished,
    #[cfg(feature = "ssr")]
    AttemptFailed,
    #[cfg(feature = "ssr")]
    AttemptCancelled,
    #[cfg(feature = "ssr")]
    AttemptRetried,
    #[cfg(feature = "ssr")]
    AttemptPaused,
    #[cfg(feature = "ssr")]
    AttemptSignIn,
    #[cfg(feature = "ssr")]
    AttemptStopped,
    #[cfg(feature = "ssr")]
    AttemptLost,
    #[cfg(feature = "ssr")]
    AttemptRunning,
    #[cfg(feature = "ssr")]
    ReportEnded,
    #[cfg(feature = "ssr")]
    ReportDuration,
    #[cfg(feature = "ssr")]
    ReportTotals,
    ReportRejectedList,
    #[cfg(feature = "ssr")]
    ReportSkippedList,
    ReportMore,
    #[cfg(feature = "ssr")]
    ReportLink,
    ReportDate,
    ReportFrom,
    ReportSubjectHeader,
    ReportSize,
    ReportReason,
    #[cfg(feature = "ssr")]
    ReportKeywordsDropped,
    #[cfg(feature = "ssr")]
    ReportSignature,
    PreflightHeading,
    PreflightLoading,
    PreflightFailed,
    PreflightCaption,
    PreflightColSource,
    PreflightColDestination,
    PreflightColMessages,
    PreflightColSize,
    PreflightColNotes,
    PreflightWillCreate,
    PreflightTotals,
    PreflightTotalsNoSize,
    PreflightAppendLimit,
    PreflightTooLarge,
    PreflightQuota,
    PreflightQuotaWarning,
    PreflightSkippedHeading,
    NoteCollision,
    NoteSeparator,
    NoteSpecialUse,
    NoteSpecialUseMissing,
    NoteInboxChild,
    NoteRenamed,
    NoteNoMessages,
    NoteNotCounted,
    NoteAllMailRemainder,
    SkipGmailVirtual,
    SkipNonExistent,
    SkipOutsideNamespace,
    SkipNamespaceRoot,
    SkipNotMail,
}

impl T {
    /// `[en, es, fr]`.
    fn texts(self) -> [&'static str; 3] {
        match self {
            T::AppTagline => [
                "Copy every folder and message of one IMAP mailbox into another. You may close the page once the copy is queued.",
                "IMAPCopy permite copiar el correo de una cuenta de origen a otra cuenta de destino. Una vez aceptada la sincronización, podrá cerrar la página.",
                "Copiez chaque dossier et chaque message d'une boîte IMAP vers une autre. Vous pourrez fermer la page une fois la copie lancée.",
            ],
            T::StepSource => ["1. Source account", "1. Cuenta de origen", "1. Compte source"],
            T::StepDestination => ["2. Destination account", "2. Cuenta de destino", "2. Compte de destination"],
            T::Service => ["Service", "Servicio", "Service"],
            T::Login => ["Login", "Login", "Identifiant"],
            T::LoginHelp => [
                "The full e-mail address, or the user name your provider gives.",
                "La dirección de correo completa o el usuario de conexión.",
                "L'adresse e-mail complète, ou l'identifiant donné par votre fournisseur.",
            ],
            T::Password => ["Password", "Password", "Mot de passe"],
            T::PasswordKept => [
                "Leave empty to keep the password already entered.",
                "Déjelo vacío para conservar la contraseña ya introducida.",
                "Laissez vide pour garder le mot de passe déjà saisi.",
            ],
            T::ImapServer => ["IMAP server", "Servidor IMAP", "Serveur IMAP"],
            T::Ssl => ["SSL", "SSL", "SSL"],
            T::SslHelp => [
                "Ticked: encrypted connection (SSL/TLS, port 993). Unticked: STARTTLS on port 143, still encrypted.",
                "Marcada: conexión cifrada SSL/TLS (puerto 993). Sin marcar: STARTTLS en el puerto 143, también cifrada.",
                "Cochée : connexion chiffrée SSL/TLS (port 993). Décochée : STARTTLS sur le port 143, chiffrée aussi.",
            ],
            T::Validate => ["Validate", "Validar", "Valider"],
            T::Accept => ["Accept", "Aceptar", "Accepter"],
            T::Checking => ["Checking the connection…", "Probando la conexión…", "Test de la connexion…"],
            T::ConnectionEstablished => [
                "Connection established.",
                "Se ha establecido la conexión.",
                "Connexion établie.",
            ],
            T::FoldersMessages => [
                "{folders} folders, {messages} messages.",
                "{folders} carpetas, {messages} mensajes.",
                "{folders} dossiers, {messages} messages.",
            ],
            T::ValidationFailed => [
                "The connection to the account could not be established.",
                "No se ha podido establecer la conexión con la cuenta.",
                "La connexion au compte n'a pas pu être établie.",
            ],
            T::FieldRequired => ["This field is required.", "Este campo es obligatorio.", "Ce champ est obligatoire."],
            T::FieldTooLong => ["This value is too long.", "Este valor es demasiado largo.", "Cette valeur est trop longue."],
            T::FieldControlChars => [
                "This value contains characters that are not allowed.",
                "Este valor contiene caracteres no permitidos.",
                "Cette valeur contient des caractères non autorisés.",
            ],
            T::FieldInvalidHost => [
                "Enter a server name such as imap.example.com.",
                "Introduzca un nombre de servidor como imap.example.com.",
                "Saisissez un nom de serveur comme imap.example.com.",
            ],
            T::FieldInvalidPort => [
                "Enter a port between 1 and 65535.",
                "Introduzca un puerto entre 1 y 65535.",
                "Saisissez un port entre 1 et 65535.",
            ],
            T::FieldUnknownPreset => ["Choose a service from the list.", "Elija un servicio de la lista.", "Choisissez un service dans la liste."],
            T::OtherService => ["Other", "Otro", "Autre"],
            T::PresetNeedsOauth => [
                "This provider accepts only OAuth2 sign-in: no password, use the sign-in button.",
                "Este proveedor solo acepta el inicio de sesión OAuth2: sin contraseña, use el botón de inicio de sesión.",
                "Ce fournisseur n'accepte que la connexion OAuth2 : pas de mot de passe, utilisez le bouton de connexion.",
            ],
            T::PresetNote => ["What this provider needs:", "Lo que necesita este proveedor:", "Ce qu'exige ce fournisseur :"],
            T::SessionExpired => [
                "Your session expired: please enter the account again.",
                "Su sesión ha caducado: introduzca de nuevo la cuenta.",
                "Votre session a expiré : saisissez à nouveau le compte.",
            ],
            T::InternalError => [
                "Something went wrong on our side. Please try again.",
                "Se ha producido un error interno. Inténtelo de nuevo.",
                "Une erreur interne s'est produite. Veuillez réessayer.",
            ],
            T::TooManyRequests => [
                "Too many attempts: please wait a minute and try again.",
                "Demasiados intentos: espere un minuto e inténtelo de nuevo.",
                "Trop de tentatives : patientez une minute puis réessayez.",
            ],
            T::BadRequest => [
                "The request could not be understood: please reload the page and try again.",
                "No se ha podido interpretar la solicitud: recargue la página e inténtelo de nuevo.",
                "La requête n'a pas pu être comprise : rechargez la page puis réessayez.",
            ],
            T::RequestTooLarge => [
                "The request is too large.",
                "La solicitud es demasiado grande.",
                "La requête est trop volumineuse.",
            ],
            T::PageNotFound => ["Page not found.", "Página no encontrada.", "Page introuvable."],
            T::SyncErrorGeneral => [
                "An error occurred in the synchronization.",
                "Se ha producido un error en la sincronización.",
                "Une erreur s'est produite lors de la synchronisation.",
            ],
            T::CauseAuth => [
                "The server refused the login or the password.",
                "El servidor ha rechazado el login o la contraseña.",
                "Le serveur a refusé l'identifiant ou le mot de passe.",
            ],
            T::CauseHostNotFound => [
                "The server name could not be found.",
                "No se ha encontrado el nombre del servidor.",
                "Le nom du serveur est introuvable.",
            ],
            T::CauseNotAllowed => [
                "This server address is not allowed.",
                "Esta dirección de servidor no está permitida.",
                "Cette adresse de serveur n'est pas autorisée.",
            ],
            T::CauseRefused => [
                "The server refused the connection on this port.",
                "El servidor ha rechazado la conexión en este puerto.",
                "Le serveur a refusé la connexion sur ce port.",
            ],
            T::CauseTimeout => [
                "The server did not answer in time.",
                "El servidor no ha respondido a tiempo.",
                "Le serveur n'a pas répondu à temps.",
            ],
            T::CauseTls => [
                "The secure connection could not be established.",
                "No se ha podido establecer la conexión segura.",
                "La connexion sécurisée n'a pas pu être établie.",
            ],
            T::CauseCertificate => [
                "The server's certificate is not trusted.",
                "El certificado del servidor no es de confianza.",
                "Le certificat du serveur n'est pas reconnu.",
            ],
            T::CauseNotTls => [
                "The server does not use SSL on this port: try unticking SSL.",
                "El servidor no usa SSL en este puerto: pruebe a desmarcar SSL.",
                "Le serveur n'utilise pas SSL sur ce port : essayez de décocher SSL.",
            ],
            T::CauseNoGreeting => [
                "The server did not greet: if it uses SSL, tick SSL.",
                "El servidor no ha saludado: si usa SSL, marque SSL.",
                "Le serveur n'a pas répondu : s'il utilise SSL, cochez SSL.",
            ],
            T::CauseStartTls => [
                "The server does not offer encryption (STARTTLS) on this port.",
                "El servidor no ofrece cifrado (STARTTLS) en este puerto.",
                "Le serveur ne propose pas de chiffrement (STARTTLS) sur ce port.",
            ],
            T::CauseClosed => [
                "The server closed the connection.",
                "El servidor ha cerrado la conexión.",
                "Le serveur a fermé la connexion.",
            ],
            T::CauseProtocol => [
                "The server answered in a way IMAPCopy did not understand.",
                "El servidor ha respondido de forma inesperada.",
                "Le serveur a répondu de façon inattendue.",
            ],
            T::Synchronize => ["Synchronize", "Sincronizar", "Synchroniser"],
            T::SyncQueued => [
                "The synchronization of the accounts is being processed. Check its status at any time by entering your address in the field below.",
                "Se está procesando la sincronización de las cuentas. Compruebe su estado en cualquier momento indicando su dirección en el campo de abajo.",
                "La synchronisation des comptes est en cours de traitement. Vérifiez son état à tout moment en indiquant votre adresse dans le champ ci-dessous.",
            ],
            T::PrivateLink => [
                "Private link to follow this copy (keep it to yourself):",
                "Enlace privado para seguir esta copia (no lo comparta):",
                "Lien privé pour suivre cette copie (gardez-le pour vous) :",
            ],
            T::StatusHeading => [
                "Status of a synchronization",
                "Estado de la sincronización",
                "État d'une synchronisation",
            ],
            T::SourceAddress => ["Source e-mail address", "Dirección de correo de origen", "Adresse e-mail source"],
            T::Send => ["Send", "Enviar", "Envoyer"],
            T::StateNotStarted => [
                "The synchronization has not started yet. Please wait.",
                "La sincronización aún no ha comenzado. Por favor, espere.",
                "La synchronisation n'a pas encore commencé. Veuillez patienter.",
            ],
            T::StatePausedUntil => [
                "The copy is paused until {until}: the account's daily limit at its provider was reached. It resumes by itself then, where it stopped; nothing is copied twice.",
                "La copia está en pausa hasta el {until}: se alcanzó el límite diario de la cuenta en su proveedor. Se reanudará sola entonces, donde se detuvo; nada se copia dos veces.",
                "La copie est en pause jusqu'au {until} : la limite quotidienne du compte chez son fournisseur est atteinte. Elle reprendra seule à ce moment, là où elle s'est arrêtée ; rien n'est copié deux fois.",
            ],
            T::StateRunning => [
                "The synchronization is in progress.",
                "La sincronización está en curso.",
                "La synchronisation est en cours.",
            ],
            T::StateFinished => [
                "The synchronization of the accounts has finished.",
                "La sincronización de las cuentas ha terminado.",
                "La synchronisation des comptes est terminée.",
            ],
            T::StateFailed => [
                "An error occurred in the synchronization.",
                "Se ha producido un error en la sincronización.",
                "Une erreur s'est produite lors de la synchronisation.",
            ],
            T::StateUnknown => [
                "There is no synchronization to show for this address.",
                "No hay ninguna sincronización que mostrar para esta dirección.",
                "Aucune synchronisation à afficher pour cette adresse.",
            ],
            T::StateAmbiguous => [
                "Several synchronizations use this user name. Please type the full e-mail address.",
                "Varias sincronizaciones usan este nombre de usuario. Por favor, escriba la dirección de correo completa.",
                "Plusieurs synchronisations utilisent cet identifiant. Veuillez saisir l'adresse e-mail complète.",
            ],
            T::JobHeading => ["Synchronization", "Sincronización", "Synchronisation"],
            T::ProgressMessages => [
                "{done} of {total} messages",
                "{done} de {total} mensajes",
                "{done} messages sur {total}",
            ],
            T::ProgressBytes => ["{done} of {total}", "{done} de {total}", "{done} sur {total}"],
            T::ProgressCounting => [
                "Counting the messages…",
                "Contando los mensajes…",
                "Comptage des messages…",
            ],
            T::TableCaption => [
                "Folder by folder",
                "Carpeta por carpeta",
                "Dossier par dossier",
            ],
            T::CurrentFolder => ["Current folder:", "Carpeta actual:", "Dossier en cours :"],
            T::TableFolder => ["Folder", "Carpeta", "Dossier"],
            T::TableDestination => ["Destination folder", "Carpeta de destino", "Dossier de destination"],
            T::TableSource => ["Source", "Origen", "Source"],
            T::TableAtDestination => ["At destination", "En destino", "À destination"],
            T::TableCopied => ["Copied", "Copiados", "Copiés"],
            T::TablePresent => ["Already there", "Ya presentes", "Déjà présents"],
            T::TableSkipped => ["Skipped", "Omitidos", "Ignorés"],
            T::TableRejected => ["Rejected", "Rechazados", "Refusés"],
            T::OutcomeComplete => [
                "Complete: every message is at the destination.",
                "Completa: todos los mensajes están en el destino.",
                "Complète : tous les messages sont à destination.",
            ],
            T::OutcomeRejections => [
                "Complete, but the destination refused some messages (listed below).",
                "Completa, pero el destino ha rechazado algunos mensajes (ver abajo).",
                "Complète, mais la destination a refusé certains messages (voir ci-dessous).",
            ],
            T::OutcomeIncomplete => [
                "Incomplete: the copy stopped before the end.",
                "Incompleta: la copia se detuvo antes del final.",
                "Incomplète : la copie s'est arrêtée avant la fin.",
            ],
            T::ReportState => ["Report e-mail:", "Correo de informe:", "E-mail de rapport :"],
            #[cfg(feature = "ssr")]
            T::BackHome => ["Start another copy", "Iniciar otra copia", "Lancer une autre copie"],
            T::Advanced => ["Advanced settings", "Opciones avanzadas", "Paramètres avancés"],
            T::Rate => ["Speed: {rate}/s", "Velocidad: {rate}/s", "Vitesse : {rate}/s"],
            T::Eta => ["About {time} left.", "Quedan unos {time}.", "Environ {time} restantes."],
            T::ReportPending => ["not sent yet", "aún no enviado", "pas encore envoyé"],
            T::ReportSent => ["sent to the destination mailbox", "enviado al buzón de destino", "envoyé à la boîte de destination"],
            T::ReportFailed => ["could not be delivered", "no se ha podido entregar", "n'a pas pu être remis"],
            T::ReportTo => ["Send the report to", "Enviar el informe a", "Envoyer le rapport à"],
            T::ReportToHelp => [
                "The destination login is not an e-mail address: where should the end-of-copy report go?",
                "El login de destino no es una dirección de correo: ¿a dónde enviamos el informe final?",
                "L'identifiant de destination n'est pas une adresse e-mail : où envoyer le rapport de fin de copie ?",
            ],
            T::ReportToInvalid => [
                "Enter an e-mail address such as name@example.com.",
                "Introduzca una dirección de correo como nombre@example.com.",
                "Saisissez une adresse e-mail comme nom@example.com.",
            ],
            T::Port => ["Port", "Puerto", "Port"],
            T::PortHelp => [
                "Leave empty for the usual port (993 with SSL, 143 without).",
                "Déjelo vacío para el puerto habitual (993 con SSL, 143 sin SSL).",
                "Laissez vide pour le port habituel (993 avec SSL, 143 sans).",
            ],
            T::AllowPlaintext => [
                "If the server offers no encryption, connect anyway: the password would travel unencrypted.",
                "Si el servidor no ofrece cifrado, conectar igualmente: la contraseña viajaría sin cifrar.",
                "Si le serveur ne propose pas de chiffrement, se connecter quand même : le mot de passe circulerait en clair.",
            ],
            #[cfg(feature = "ssr")]
            T::ReportSubjectFinished => [
                "IMAPCopy: the synchronization of {source} has finished",
                "IMAPCopy: la sincronización de {source} ha terminado",
                "IMAPCopy : la synchronisation de {source} est terminée",
            ],
            #[cfg(feature = "ssr")]
            T::ReportSubjectFailed => [
                "IMAPCopy: the synchronization of {source} failed",
                "IMAPCopy: error en la sincronización de {source}",
                "IMAPCopy : échec de la synchronisation de {source}",
            ],
            #[cfg(feature = "ssr")]
            T::ReportSource => ["Source account", "Cuenta de origen", "Compte source"],
            #[cfg(feature = "ssr")]
            T::ReportDestination => ["Destination account", "Cuenta de destino", "Compte de destination"],
            #[cfg(feature = "ssr")]
            T::ReportStarted => ["Started", "Inicio", "Début"],
            #[cfg(feature = "ssr")]
            T::PreflightGmailNoAllMail => [
                "This Gmail account shows no “All Mail” folder over IMAP: archived messages (those in no label) cannot be read, and will not be copied. In Gmail's settings, under Labels, tick “Show in IMAP” for All Mail, then validate the source again.",
                "Esta cuenta de Gmail no muestra la carpeta «Todos» por IMAP: los mensajes archivados (los que no tienen etiqueta) no se pueden leer y no se copiarán. En la configuración de Gmail, en Etiquetas, marque «Mostrar en IMAP» para Todos y vuelva a validar el origen.",
                "Ce compte Gmail ne montre pas le dossier « Tous les messages » en IMAP : les messages archivés (sans libellé) ne peuvent pas être lus et ne seront pas copiés. Dans les paramètres de Gmail, onglet Libellés, cochez « Afficher dans IMAP » pour Tous les messages, puis validez de nouveau la source.",
            ],
            #[cfg(feature = "ssr")]
            T::PreflightDailyUpload => [
                "{provider} accepts about {mb} MB a day over IMAP: this copy takes up to {days} days. Each day it copies a little less than that, pauses until the next day and goes on by itself; the page shows until when.",
                "{provider} acepta unos {mb} MB al día por IMAP: esta copia tardará hasta {days} días. Cada día copia algo menos que eso, se detiene hasta el día siguiente y continúa sola; la página indica hasta cuándo.",
                "{provider} accepte environ {mb} Mo par jour en IMAP : cette copie prendra jusqu'à {days} jours. Chaque jour elle copie un peu moins que cela, s'interrompt jusqu'au lendemain et reprend d'elle-même ; la page indique jusqu'à quand.",
            ],
            #[cfg(feature = "ssr")]
            T::PreflightDailyDownload => [
                "{provider} lets about {mb} MB a day be read over IMAP: this copy takes up to {days} days. Each day it copies a little less than that, pauses until the next day and goes on by itself; the page shows until when.",
                "{provider} permite leer unos {mb} MB al día por IMAP: esta copia tardará hasta {days} días. Cada día copia algo menos que eso, se detiene hasta el día siguiente y continúa sola; la página indica hasta cuándo.",
                "{provider} permet de lire environ {mb} Mo par jour en IMAP : cette copie prendra jusqu'à {days} jours. Chaque jour elle copie un peu moins que cela, s'interrompt jusqu'au lendemain et reprend d'elle-même ; la page indique jusqu'à quand.",
            ],
            #[cfg(feature = "ssr")]
            T::PreflightLabelsLegend => [
                "How to copy the labels",
                "Cómo copiar las etiquetas",
                "Comment copier les libellés",
            ],
            #[cfg(feature = "ssr")]
            T::PreflightLabelsFolders => [
                "Folders as in Gmail",
                "Carpetas como en Gmail",
                "Dossiers comme dans Gmail",
            ],
            #[cfg(feature = "ssr")]
            T::PreflightLabelsFoldersHint => [
                "Each label becomes a folder: a message with two labels is copied into both. Archived messages (in no label) go to the archive folder. {n} messages, plus the archived ones.",
                "Cada etiqueta se convierte en una carpeta: un mensaje con dos etiquetas se copia en las dos. Los mensajes archivados (sin etiqueta) van a la carpeta de archivo. {n} mensajes, más los archivados.",
                "Chaque libellé devient un dossier : un message qui a deux libellés est copié dans les deux. Les messages archivés (sans libellé) vont dans le dossier d'archives. {n} messages, plus les archivés.",
            ],
            #[cfg(feature = "ssr")]
            T::PreflightLabelsOneCopy => [
                "One copy of each message",
                "Una copia de cada mensaje",
                "Un seul exemplaire de chaque message",
            ],
            #[cfg(feature = "ssr")]
            T::PreflightLabelsOneCopyHint => [
                "Each message is copied once: into the inbox, Sent or Drafts when it is there, else into its first label by name, else into the archive folder. Its other labels become keywords where the destination allows them. {n} messages.",
                "Cada mensaje se copia una sola vez: en la bandeja de entrada, Enviados o Borradores si está allí; si no, en su primera etiqueta por nombre; si no, en la carpeta de archivo. Sus otras etiquetas pasan a ser palabras clave cuando el destino las admite. {n} mensajes.",
                "Chaque message est copié une seule fois : dans la boîte de réception, Envoyés ou Brouillons s'il s'y trouve, sinon dans son premier libellé par ordre de nom, sinon dans le dossier d'archives. Ses autres libellés deviennent des mots-clés là où la destination les accepte. {n} messages.",
            ],
            T::AttemptsHeading => ["Attempts", "Intentos", "Tentatives"],
            #[cfg(feature = "ssr")]
            T::AttemptLine => [
                "Attempt {n}: {start} – {end}, {how}",
                "Intento {n}: {start} – {end}, {how}",
                "Tentative {n} : {start} – {end}, {how}",
            ],
            #[cfg(feature = "ssr")]
            T::AttemptFinished => ["finished", "terminado", "terminée"],
            #[cfg(feature = "ssr")]
            T::AttemptFailed => ["failed", "falló", "échouée"],
            #[cfg(feature = "ssr")]
            T::AttemptCancelled => ["cancelled", "cancelado", "annulée"],
            #[cfg(feature = "ssr")]
            T::AttemptRetried => [
                "stopped on an error, tried again",
                "se detuvo por un error y se reintentó",
                "arrêtée sur une erreur, reprise",
            ],
            #[cfg(feature = "ssr")]
            T::AttemptPaused => [
                "paused at the provider's daily limit",
                "en pausa por el límite diario del proveedor",
                "en pause à la limite quotidienne du fournisseur",
            ],
            #[cfg(feature = "ssr")]
            T::AttemptSignIn => [
                "waited for a new sign-in",
                "esperó un nuevo inicio de sesión",
                "en attente d'une nouvelle connexion",
            ],
            #[cfg(feature = "ssr")]
            T::AttemptStopped => [
                "the service stopped; resumed",
                "el servicio se detuvo; se reanudó",
                "le service s'est arrêté ; reprise",
            ],
            #[cfg(feature = "ssr")]
            T::AttemptLost => [
                "interrupted (the service restarted); resumed",
                "interrumpido (el servicio se reinició); se reanudó",
                "interrompue (le service a redémarré) ; reprise",
            ],
            #[cfg(feature = "ssr")]
            T::AttemptRunning => ["running", "en curso", "en cours"],
            #[cfg(feature = "ssr")]
            T::ReportEnded => ["Ended", "Fin", "Fin"],
            #[cfg(feature = "ssr")]
            T::ReportDuration => ["Duration", "Duración", "Durée"],
            #[cfg(feature = "ssr")]
            T::ReportTotals => [
                "{folders} folders, {messages} messages ({bytes}) at the source; {copied} copied, {present} already there, {skipped} skipped, {rejected} rejected.",
                "{folders} carpetas, {messages} mensajes ({bytes}) en el origen; {copied} copiados, {present} ya presentes, {skipped} omitidos, {rejected} rechazados.",
                "{folders} dossiers, {messages} messages ({bytes}) à la source ; {copied} copiés, {present} déjà présents, {skipped} ignorés, {rejected} refusés.",
            ],
            T::ReportRejectedList => [
                "Messages the destination did not accept",
                "Mensajes que el destino no ha aceptado",
                "Messages refusés par la destination",
            ],
            #[cfg(feature = "ssr")]
            T::ReportSkippedList => [
                "Messages not copied on purpose",
                "Mensajes no copiados a propósito",
                "Messages volontairement non copiés",
            ],
            T::ReportMore => ["… and {n} more.", "… y {n} más.", "… et {n} de plus."],
            #[cfg(feature = "ssr")]
            T::ReportLink => [
                "Details of this synchronization (private link):",
                "Detalle de esta sincronización (enlace privado):",
                "Détail de cette synchronisation (lien privé) :",
            ],
            T::ReportDate => ["Date", "Fecha", "Date"],
            T::ReportFrom => ["From", "De", "De"],
            T::ReportSubjectHeader => ["Subject", "Asunto", "Objet"],
            T::ReportSize => ["Size", "Tamaño", "Taille"],
            T::ReportReason => ["Reason", "Motivo", "Motif"],
            #[cfg(feature = "ssr")]
            T::ReportKeywordsDropped => [
                "{n} keywords were refused by the destination (the messages were copied without them).",
                "El destino ha rechazado {n} etiquetas (los mensajes se copiaron sin ellas).",
                "La destination a refusé {n} mots-clés (les messages ont été copiés sans eux).",
            ],
            #[cfg(feature = "ssr")]
            T::ReportSignature => [
                "This message was written by IMAPCopy.",
                "Este mensaje ha sido generado por IMAPCopy.",
                "Ce message a été rédigé par IMAPCopy.",
            ],
            T::PreflightHeading => ["What the copy will do", "Qué hará la copia", "Ce que fera la copie"],
            T::PreflightLoading => [
                "Reading both accounts to prepare the copy…",
                "Leyendo las dos cuentas para preparar la copia…",
                "Lecture des deux comptes pour préparer la copie…",
            ],
            T::PreflightFailed => [
                "The preview of the copy could not be prepared; you can still synchronize.",
                "No se ha podido preparar la vista previa de la copia; puede sincronizar igualmente.",
                "L'aperçu de la copie n'a pas pu être préparé ; vous pouvez tout de même synchroniser.",
            ],
            T::PreflightCaption => [
                "Where each source folder goes",
                "Destino de cada carpeta de origen",
                "Destination de chaque dossier source",
            ],
            T::PreflightColSource => ["Source folder", "Carpeta de origen", "Dossier source"],
            T::PreflightColDestination => ["Destination folder", "Carpeta de destino", "Dossier de destination"],
            T::PreflightColMessages => ["Messages", "Mensajes", "Messages"],
            T::PreflightColSize => ["Size", "Tamaño", "Taille"],
            T::PreflightColNotes => ["Notes", "Notas", "Remarques"],
            T::PreflightWillCreate => ["will be created", "se creará", "sera créé"],
            T::PreflightTotals => [
                "{messages} messages to copy ({bytes}).",
                "{messages} mensajes que copiar ({bytes}).",
                "{messages} messages à copier ({bytes}).",
            ],
            T::PreflightTotalsNoSize => [
                "{messages} messages to copy.",
                "{messages} mensajes que copiar.",
                "{messages} messages à copier.",
            ],
            T::PreflightAppendLimit => [
                "The destination accepts messages of up to {size}.",
                "El destino acepta mensajes de hasta {size}.",
                "La destination accepte les messages jusqu'à {size}.",
            ],
            T::PreflightTooLarge => [
                "{n} messages are larger: the destination will refuse them.",
                "{n} mensajes son mayores: el destino los rechazará.",
                "{n} messages sont plus gros : la destination les refusera.",
            ],
            T::PreflightQuota => [
                "Destination quota: {used} used of {limit}.",
                "Cuota del destino: {used} usados de {limit}.",
                "Quota de la destination : {used} utilisés sur {limit}.",
            ],
            T::PreflightQuotaWarning => [
                "The destination may run out of space: {free} free for {bytes} to copy.",
                "El destino puede quedarse sin espacio: {free} libres para {bytes} que copiar.",
                "La destination risque de manquer de place : {free} libres pour {bytes} à copier.",
            ],
            T::PreflightSkippedHeading => ["Folders not copied", "Carpetas que no se copian", "Dossiers non copiés"],
            T::NoteCollision => [
                "renamed: {with} takes this name",
                "renombrada: {with} ya usa este nombre",
                "renommé : {with} prend déjà ce nom",
            ],
            T::NoteSeparator => [
                "“{separator}” replaced by “{replacement}” (the destination's folder separator)",
                "“{separator}” sustituido por “{replacement}” (separador de carpetas del destino)",
                "« {separator} » remplacé par « {replacement} » (séparateur de dossiers de la destination)",
            ],
            T::NoteSpecialUse => [
                "special folder {attribute}: merged with the destination's",
                "carpeta especial {attribute}: se une a la del destino",
                "dossier spécial {attribute} : fusionné avec celui de la destination",
            ],
            T::NoteSpecialUseMissing => [
                "special folder {attribute}: the destination has none, copied by name",
                "carpeta especial {attribute}: el destino no tiene ninguna, se copia por nombre",
                "dossier spécial {attribute} : absent de la destination, copié par son nom",
            ],
            T::NoteInboxChild => [
                "inside INBOX at the source, at the top level at the destination",
                "dentro de INBOX en el origen, en la raíz del destino",
                "dans INBOX à la source, à la racine de la destination",
            ],
            T::NoteRenamed => [
                "renamed: characters the destination does not accept were replaced",
                "renombrada: se han sustituido caracteres que el destino no acepta",
                "renommé : des caractères refusés par la destination ont été remplacés",
            ],
            T::NoteNoMessages => ["holds no messages", "no contiene mensajes", "ne contient aucun message"],
            T::NoteNotCounted => [
                "the source server did not count this folder",
                "el servidor de origen no ha contado esta carpeta",
                "le serveur source n'a pas compté ce dossier",
            ],
            T::NoteAllMailRemainder => [
                "all mail: only the messages in no other folder (archived) are copied here; the count includes the others",
                "todos los mensajes: aquí solo se copian los que no están en ninguna otra carpeta (archivados); la cifra incluye los demás",
                "tous les messages : seuls ceux qui ne sont dans aucun autre dossier (archivés) sont copiés ici ; le nombre inclut les autres",
            ],
            T::SkipGmailVirtual => [
                "a Gmail view of labels: copying it would duplicate every message",
                "una vista de etiquetas de Gmail: copiarla duplicaría todos los mensajes",
                "une vue des libellés de Gmail : la copier dupliquerait tous les messages",
            ],
            T::SkipNonExistent => [
                "listed by the server but does not exist",
                "el servidor la muestra pero no existe",
                "affiché par le serveur mais inexistant",
            ],
            T::SkipOutsideNamespace => [
                "a shared folder or another user's",
                "una carpeta compartida o de otro usuario",
                "un dossier partagé ou d'un autre utilisateur",
            ],
            T::SkipNamespaceRoot => [
                "the root of the mailbox, not a folder",
                "la raíz del buzón, no una carpeta",
                "la racine de la boîte, pas un dossier",
            ],
            T::SkipNotMail => [
                "holds no mail on this provider (calendar, contacts, tasks, notes, sync logs)",
                "no contiene correo en este proveedor (calendario, contactos, tareas, notas, registros de sincronización)",
                "ne contient pas de courrier chez ce fournisseur (calendrier, contacts, tâches, notes, journaux de synchronisation)",
            ],
            T::CauseTokenRefused => [
                "The server refused the sign-in. Check that IMAP is enabled for this account (Gmail: Settings, Forwarding and POP/IMAP; Microsoft 365: the administrator enables IMAP for the mailbox) and that the account has a mailbox.",
                "El servidor ha rechazado el inicio de sesión. Compruebe que IMAP está activado para esta cuenta (Gmail: Configuración, Reenvío y correo POP/IMAP; Microsoft 365: el administrador activa IMAP para el buzón) y que la cuenta tiene buzón.",
                "Le serveur a refusé la connexion. Vérifiez qu'IMAP est activé pour ce compte (Gmail : Paramètres, Transfert et POP/IMAP ; Microsoft 365 : l'administrateur active IMAP pour la boîte) et que le compte a une boîte aux lettres.",
            ],
            T::CauseSignInDenied => [
                "The sign-in was cancelled or access was not granted at the provider.",
                "Se ha cancelado el inicio de sesión o no se ha concedido el acceso en el proveedor.",
                "La connexion a été annulée ou l'accès n'a pas été accordé chez le fournisseur.",
            ],
            T::CauseSignInFailed => [
                "The provider did not complete the sign-in: please sign in again.",
                "El proveedor no ha completado el inicio de sesión: inicie sesión de nuevo.",
                "Le fournisseur n'a pas terminé la connexion : connectez-vous à nouveau.",
            ],
            T::CauseMissingScope => [
                "Access to the mailbox was not granted: sign in again and allow access to your mail.",
                "No se ha concedido el acceso al buzón: inicie sesión de nuevo y permita el acceso al correo.",
                "L'accès à la boîte n'a pas été accordé : reconnectez-vous et autorisez l'accès à vos messages.",
            ],
            T::CauseWrongAccount => [
                "You signed in with another account than the login typed.",
                "Ha iniciado sesión con otra cuenta distinta del login indicado.",
                "Vous vous êtes connecté avec un autre compte que l'identifiant saisi.",
            ],
            T::CauseSignInNotEnabled => [
                "This IMAPCopy service has not enabled sign-in with this provider.",
                "Este servicio IMAPCopy no tiene activado el inicio de sesión con este proveedor.",
                "Ce service IMAPCopy n'a pas activé la connexion avec ce fournisseur.",
            ],
            T::CauseImapDisabled => [
                "IMAP is disabled for this account: enable it in the account's mail settings, then try again.",
                "IMAP está desactivado para esta cuenta: actívelo en la configuración del correo y vuelva a intentarlo.",
                "IMAP est désactivé pour ce compte : activez-le dans les paramètres de la messagerie, puis réessayez.",
            ],
            T::SignInWith => ["Sign in with {provider}", "Iniciar sesión con {provider}", "Se connecter avec {provider}"],
            T::SignedInWith => [
                "Signed in with {provider}: no password needed.",
                "Sesión iniciada con {provider}: no hace falta contraseña.",
                "Connecté avec {provider} : aucun mot de passe nécessaire.",
            ],
            T::SignInOr => [
                "Or sign in at the provider instead of typing a password:",
                "O inicie sesión en el proveedor en lugar de escribir una contraseña:",
                "Ou connectez-vous chez le fournisseur au lieu de saisir un mot de passe :",
            ],
            T::PresetOauthNotEnabled => [
                "This provider accepts only OAuth2 sign-in, which this IMAPCopy service has not enabled: a password will be refused.",
                "Este proveedor solo acepta el inicio de sesión OAuth2, que este servicio IMAPCopy no tiene activado: la contraseña será rechazada.",
                "Ce fournisseur n'accepte que la connexion OAuth2, que ce service IMAPCopy n'a pas activée : un mot de passe sera refusé.",
            ],
            #[cfg(feature = "ssr")]
            T::SignInReturning => ["Back to IMAPCopy…", "Volviendo a IMAPCopy…", "Retour à IMAPCopy…"],
            #[cfg(feature = "ssr")]
            T::SignInContinue => ["Continue", "Continuar", "Continuer"],
            #[cfg(feature = "ssr")]
            T::SignInLinkInvalid => [
                "This sign-in cannot be completed.",
                "No se puede completar este inicio de sesión.",
                "Cette connexion ne peut pas aboutir.",
            ],
            T::StateWaitingForSignIn => [
                "The copy is paused: it waits for you to sign in again.",
                "La copia está en pausa: espera a que vuelva a iniciar sesión.",
                "La copie est en pause : elle attend que vous vous reconnectiez.",
            ],
            T::SignInAgainWhy => [
                "The sign-in of {login} with {provider} is no longer accepted (revoked or expired). Sign in again: the copy resumes where it stopped, nothing is copied twice. Without a new sign-in it ends on {deadline}.",
                "El inicio de sesión de {login} con {provider} ya no se acepta (revocado o caducado). Vuelva a iniciar sesión: la copia continúa donde se detuvo, sin copiar nada dos veces. Sin un nuevo inicio de sesión termina el {deadline}.",
                "La connexion de {login} avec {provider} n'est plus acceptée (révoquée ou expirée). Reconnectez-vous : la copie reprend là où elle s'est arrêtée, sans rien copier deux fois. Sans nouvelle connexion, elle se termine le {deadline}.",
            ],
            T::SignInAgain => [
                "Sign in again with {provider}",
                "Volver a iniciar sesión con {provider}",
                "Se reconnecter avec {provider}",
            ],
            #[cfg(feature = "ssr")]
            T::BackToJob => ["Back to the copy", "Volver a la copia", "Retour à la copie"],
            T::Language => ["Language", "Idioma", "Langue"],
            T::Footer => [
                "Passwords are encrypted on the server and erased when the copy ends.",
                "Las contraseñas se cifran en el servidor y se borran al terminar la copia.",
                "Les mots de passe sont chiffrés sur le serveur et effacés à la fin de la copie.",
            ],
        }
    }

    pub fn get(self, lang: Lang) -> &'static str {
        let [en, es, fr] = self.texts();
        match lang {
            Lang::En => en,
            Lang::Es => es,
            Lang::Fr => fr,
        }
    }
}

/// Replaces `{name}` placeholders.
pub fn fill(template: &str, values: &[(&str, String)]) -> String {
    let mut out = template.to_string();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_highest_quality() {
        assert_eq!(
            Lang::from_accept_language("fr-CH, fr;q=0.9, en;q=0.8"),
            Some(Lang::Fr)
        );
        assert_eq!(
            Lang::from_accept_language("de-DE, es;q=0.5, en;q=0.7"),
            Some(Lang::En)
        );
        assert_eq!(Lang::from_accept_language("es-ES"), Some(Lang::Es));
        assert_eq!(Lang::from_accept_language("de, it"), None);
        assert_eq!(
            Lang::from_accept_language("en;q=0, fr;q=0.1"),
            Some(Lang::Fr)
        );
    }

    #[test]
    fn fill_replaces_placeholders() {
        let text = fill(
            T::FoldersMessages.get(Lang::Es),
            &[("folders", "3".into()), ("messages", "10".into())],
        );
        assert_eq!(text, "3 carpetas, 10 mensajes.");
    }
}
