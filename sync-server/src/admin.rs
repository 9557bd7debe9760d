//! The administrator's commands (`doorstep-server add-tenant …`): set up
//! councils, people, teams and sign-ins, and issue enrolment codes, on the
//! store directly, before any back office exists to do it.

use anyhow::Context;
use clap::Subcommand;
use doorstep_shared::ids::{DeviceId, TeamId, TenantId, UserId};
use doorstep_shared::time::Timestamp;
use doorstep_shared::transition::Role;

use crate::secrets;
use crate::store::Store;
use crate::store::staff::StaffRole;

/// Commands other than serving.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Print a one-time code that enrols a phone for a user.
    Enrol {
        /// The user.
        #[arg(long)]
        user: UserId,
        /// Re-enrol this (revoked) device, keeping its actor id.
        #[arg(long)]
        device: Option<DeviceId>,
    },
    /// Add a council (or rename one); prints its id.
    AddTenant {
        /// Its name.
        #[arg(long)]
        name: String,
        /// Its id; a new one if not given.
        #[arg(long)]
        id: Option<TenantId>,
    },
    /// Add a person working for one or more councils; prints their id.
    AddUser {
        /// Their name.
        #[arg(long)]
        name: String,
        /// operative, crew or dispatcher.
        #[arg(long)]
        role: Role,
        /// A council they work for (repeat for several).
        #[arg(long = "tenant", required = true)]
        tenants: Vec<TenantId>,
        /// Their id; a new one if not given.
        #[arg(long)]
        id: Option<UserId>,
    },
    /// Add a team (or crew) of a council with its members; prints its id.
    AddTeam {
        /// Its name.
        #[arg(long)]
        name: String,
        /// The council.
        #[arg(long)]
        tenant: TenantId,
        /// A member (repeat for several).
        #[arg(long = "member")]
        members: Vec<UserId>,
        /// Its id; a new one if not given.
        #[arg(long)]
        id: Option<TeamId>,
    },
    /// Give a user a back-office sign-in as a council's administrator (or
    /// a new password); prints the password, shown only this once.
    AddAdmin {
        /// The user (see `add-user`).
        #[arg(long)]
        user: UserId,
        /// Their email address, to sign in with.
        #[arg(long)]
        email: String,
        /// The council they administer.
        #[arg(long)]
        tenant: TenantId,
    },
}

/// Runs an administrative command on the store; returns what to print.
pub fn run(store: &Store, command: Command, now: Timestamp) -> anyhow::Result<String> {
    let random = || secrets::new_device().map(|(device, _)| *device.as_uuid().as_bytes());
    Ok(match command {
        Command::Enrol { user, device } => {
            let code = secrets::enrolment_code()?;
            store
                .create_enrolment(&code, user, device, now.plus_minutes(7 * 24 * 60))
                .context("could not issue the code (is the user id right?)")?;
            code
        }
        Command::AddTenant { name, id } => {
            let id = match id {
                Some(id) => id,
                None => TenantId::from_random_bytes(random()?),
            };
            store.put_tenant(id, &name)?;
            id.to_string()
        }
        Command::AddUser {
            name,
            role,
            tenants,
            id,
        } => {
            let id = match id {
                Some(id) => id,
                None => UserId::from_random_bytes(random()?),
            };
            store
                .create_user(id, &name, role, &tenants)
                .context("could not add the user (do the councils exist?)")?;
            id.to_string()
        }
        Command::AddTeam {
            name,
            tenant,
            members,
            id,
        } => {
            let id = match id {
                Some(id) => id,
                None => TeamId::from_random_bytes(random()?),
            };
            store
                .create_team(id, tenant, &name, &members)
                .context("could not add the team (do the council and members exist?)")?;
            id.to_string()
        }
        Command::AddAdmin {
            user,
            email,
            tenant,
        } => {
            let email = email.trim().to_lowercase();
            email
                .parse::<doorstep_shared::contact::EmailAddress>()
                .map_err(|_| anyhow::anyhow!("{email:?} is not an email address"))?;
            let password = secrets::enrolment_code()?;
            let hash = crate::office::staff::hash_password(&password)
                .map_err(|_| anyhow::anyhow!("could not hash the password"))?;
            store
                .put_staff_account(user, &email, &hash)
                .context("could not add the sign-in (is the user id right, the email free?)")?;
            store.grant_staff_role(user, tenant, StaffRole::Admin)?;
            password
        }
    })
}
